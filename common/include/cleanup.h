/* SPDX-License-Identifier: BSD-3-Clause */
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
#include <string.h>

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

/* A lock or unlock that fails is a programming error (unlocking a
 * mutex this thread does not hold, relocking an error-checking mutex,
 * using a destroyed lock): carrying on would corrupt the state the
 * lock guards, so say where and stop.  stderr, not nbdkit_error: the
 * tools use these guards too, and nbdkit sends stderr to its log.
 */
static inline void __attribute__ ((noreturn, cold))
blk_lock_failed_ (const char *what, int err, const char *file, int line)
{
  if (file)
    fprintf (stderr, "nbdkit-blk: %s:%d: ", file, line);
  else
    fprintf (stderr, "nbdkit-blk: at the end of a lock guard's scope: ");
  fprintf (stderr, "%s failed: %s (error %d)\n", what, strerror (err), err);
  abort ();
}

static inline pthread_mutex_t *
blk_mutex_lock_ (pthread_mutex_t *m, const char *file, int line)
{
  int r = pthread_mutex_lock (m);

  if (r != 0)
    blk_lock_failed_ ("pthread_mutex_lock", r, file, line);
  return m;
}

static inline void
blk_cleanup_unlock (pthread_mutex_t **m)
{
  int r = pthread_mutex_unlock (*m);

  if (r != 0)
    blk_lock_failed_ ("pthread_mutex_unlock", r, NULL, 0);
}

static inline pthread_rwlock_t *
blk_rwlock_rdlock_ (pthread_rwlock_t *l, const char *file, int line)
{
  int r = pthread_rwlock_rdlock (l);

  if (r != 0)
    blk_lock_failed_ ("pthread_rwlock_rdlock", r, file, line);
  return l;
}

static inline pthread_rwlock_t *
blk_rwlock_wrlock_ (pthread_rwlock_t *l, const char *file, int line)
{
  int r = pthread_rwlock_wrlock (l);

  if (r != 0)
    blk_lock_failed_ ("pthread_rwlock_wrlock", r, file, line);
  return l;
}

static inline void
blk_cleanup_rwunlock (pthread_rwlock_t **l)
{
  int r = pthread_rwlock_unlock (*l);

  if (r != 0)
    blk_lock_failed_ ("pthread_rwlock_unlock", r, NULL, 0);
}

#define BLK_CONCAT_(a, b) a##b
#define BLK_CONCAT(a, b) BLK_CONCAT_ (a, b)

/* Each guard holds its lock until the end of the enclosing scope.
 * The hidden variable is named by __COUNTER__, not __LINE__, so two
 * guards may share a line (and a macro that expands to two guards
 * works).  Lock failures abort with FILE:LINE of the guard.
 */

/* Holds MUTEX (pthread_mutex_t *). */
#define LOCK_GUARD(mutex)                                               \
  pthread_mutex_t *BLK_CONCAT (blk_lock_guard_, __COUNTER__)            \
    __attribute__ ((cleanup (blk_cleanup_unlock), unused)) =            \
    blk_mutex_lock_ ((mutex), __FILE__, __LINE__)

/* Holds LOCK (pthread_rwlock_t *) shared / exclusive. */
#define RWLOCK_RDLOCK_GUARD(lock)                                       \
  pthread_rwlock_t *BLK_CONCAT (blk_rdlock_guard_, __COUNTER__)         \
    __attribute__ ((cleanup (blk_cleanup_rwunlock), unused)) =          \
    blk_rwlock_rdlock_ ((lock), __FILE__, __LINE__)

#define RWLOCK_WRLOCK_GUARD(lock)                                       \
  pthread_rwlock_t *BLK_CONCAT (blk_wrlock_guard_, __COUNTER__)         \
    __attribute__ ((cleanup (blk_cleanup_rwunlock), unused)) =          \
    blk_rwlock_wrlock_ ((lock), __FILE__, __LINE__)

#endif /* NBDKIT_BLK_CLEANUP_H */
