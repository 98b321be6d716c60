/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: common/include/cleanup.h (scope guards) */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "cleanup.h"

static pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t m2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

static void
assert_unlocked (pthread_mutex_t *m)
{
  cr_assert_eq (pthread_mutex_trylock (m), 0, "mutex still held");
  pthread_mutex_unlock (m);
}

Test (cleanup, lock_guard_holds_until_scope_end)
{
  {
    LOCK_GUARD (&m1);
    cr_assert_eq (pthread_mutex_trylock (&m1), EBUSY);
  }
  assert_unlocked (&m1);
}

/* With __LINE__ names this did not compile: two guards on one line
 * (as a macro expanding to two guards produces) declared the same
 * variable twice.
 */
#define LOCK_BOTH(a, b) LOCK_GUARD (a); LOCK_GUARD (b)
Test (cleanup, two_guards_on_one_line)
{
  {
    LOCK_BOTH (&m1, &m2);
    cr_assert_eq (pthread_mutex_trylock (&m1), EBUSY);
    cr_assert_eq (pthread_mutex_trylock (&m2), EBUSY);
  }
  assert_unlocked (&m1);
  assert_unlocked (&m2);
}

static int
early_return (int fail)
{
  LOCK_GUARD (&m1);
  if (fail)
    return -1;
  return 0;
}

Test (cleanup, released_on_every_return_path)
{
  cr_assert_eq (early_return (1), -1);
  assert_unlocked (&m1);
  cr_assert_eq (early_return (0), 0);
  assert_unlocked (&m1);
}

Test (cleanup, rwlock_guards)
{
  {
    RWLOCK_RDLOCK_GUARD (&rw);
    RWLOCK_RDLOCK_GUARD (&rw);            /* readers share */
    cr_assert_eq (pthread_rwlock_trywrlock (&rw), EBUSY);
  }
  {
    RWLOCK_WRLOCK_GUARD (&rw);
    cr_assert_eq (pthread_rwlock_tryrdlock (&rw), EBUSY);
  }
  cr_assert_eq (pthread_rwlock_trywrlock (&rw), 0, "rwlock still held");
  pthread_rwlock_unlock (&rw);
}

/* Relocking an error-checking mutex fails with EDEADLK: the guard
 * must stop (abort with a message), not run the critical section
 * without the lock as the old guard did.
 */
Test (cleanup, lock_failure_aborts, .signal = SIGABRT)
{
  pthread_mutexattr_t a;
  pthread_mutex_t m;

  pthread_mutexattr_init (&a);
  pthread_mutexattr_settype (&a, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init (&m, &a);
  LOCK_GUARD (&m);
  {
    LOCK_GUARD (&m);
    /* Not reached. */
    exit (0);
  }
}

Test (cleanup, wrlock_relock_aborts, .signal = SIGABRT)
{
  static pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;

  RWLOCK_WRLOCK_GUARD (&l);
  {
    RWLOCK_WRLOCK_GUARD (&l);           /* glibc: EDEADLK */
    exit (0);
  }
}

Test (cleanup, cleanup_free)
{
  CLEANUP_FREE char *p = malloc (16);
  cr_assert_not_null (p);               /* ASan reports a leak if not freed */
}
