/* nbdkit-blk: scope guards built on __attribute__((cleanup)).
 *
 * Why: every error path in a callback must drop its locks and free its
 * buffers; letting the compiler do it keeps those paths short and correct.
 */
#ifndef NBDKIT_BLK_CLEANUP_H
#define NBDKIT_BLK_CLEANUP_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static inline void
blk_cleanup_free (void *ptr)
{
  free (*(void **) ptr);
}
#define CLEANUP_FREE __attribute__ ((cleanup (blk_cleanup_free)))

static inline void
blk_cleanup_fclose (FILE **fp)
{
  if (*fp)
    fclose (*fp);
}
#define CLEANUP_FCLOSE __attribute__ ((cleanup (blk_cleanup_fclose)))

static inline void
blk_cleanup_unlock (pthread_mutex_t **m)
{
  pthread_mutex_unlock (*m);
}

#define BLK_CONCAT_(a, b) a##b
#define BLK_CONCAT(a, b) BLK_CONCAT_ (a, b)

/* Holds MUTEX until the end of the enclosing scope. */
#define LOCK_GUARD(mutex)                                               \
  pthread_mutex_t *BLK_CONCAT (lock_guard_, __LINE__)                   \
    __attribute__ ((cleanup (blk_cleanup_unlock), unused)) =            \
    (pthread_mutex_lock (mutex), (mutex))

#endif /* NBDKIT_BLK_CLEANUP_H */
