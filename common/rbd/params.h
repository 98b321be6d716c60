/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk: the Ceph connection parameters shared by the rbd plugin
 * and the qcow2 plugin's rbd backend, and their parser.
 *
 * Both modules take the same options (conf, id, keyring, cluster,
 * rbd-cache, timeout, request-timeout); the qcow2 plugin names them
 * with an "rbd-" prefix (rbd-conf=...).  Every error message names the
 * parameter as the user spelled it.  No librados here, so the parser
 * can be fuzzed alone (fuzz/fuzz-rbd-params.c).
 *
 * Thread model: written in .config/.config_complete only, read-only
 * afterwards.
 */
#ifndef NBDKIT_BLK_RBD_PARAMS_H
#define NBDKIT_BLK_RBD_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "cache-mode.h"
#include "spec.h"

/* Without timeout=: how long to wait for the monitors, and how long
 * shutting down may take.  Ceph's own default is 300 s, during which
 * a user sees nothing at all.
 */
#define BLK_RBD_DEFAULT_TIMEOUT_NS (30ull * 1000000000)
/* Without request-timeout=: how long one OSD operation may wait.
 * Above a normal OSD fail-over (heartbeat grace 20 s, then peering),
 * so that a failing OSD of a healthy cluster costs no error.
 */
#define BLK_RBD_DEFAULT_REQUEST_TIMEOUT_NS (60ull * 1000000000)

struct blk_rbd_params {
  struct rbd_spec spec;         /* POOL[/NS]/IMAGE[@SNAP] */
  char *conf;                   /* NULL: librados' own search */
  char *id;                     /* NULL: "admin" */
  char *keyring;
  char *cluster;                /* NULL: "ceph" */
  int rbd_cache;                /* -1 as in the conf, 0, 1 */
  enum blk_rbd_cache_mode cache_mode; /* cache= (rbd plugin only) */
  uint64_t timeout_ns;          /* monitors and shutdown, > 0 */
  uint64_t request_timeout_ns;  /* one OSD op; 0: wait for ever */
  bool readonly;                /* open read-only (forced by a snapshot) */
  /* For messages: the prefix of the option names ("" or "rbd-") and
   * the name of the parameter holding the image ("image", "file").
   */
  const char *key_prefix;
  const char *image_key;
};
#define BLK_RBD_PARAMS_INIT(PREFIX, IMAGE_KEY)                          \
  { .rbd_cache = -1, .cache_mode = BLK_RBD_CACHE_UNSET,                \
    .timeout_ns = BLK_RBD_DEFAULT_TIMEOUT_NS,          \
    .request_timeout_ns = BLK_RBD_DEFAULT_REQUEST_TIMEOUT_NS,           \
    .key_prefix = (PREFIX), .image_key = (IMAGE_KEY) }

/* Parse one of PREFIX{conf,id,keyring,cluster,timeout,request-timeout}
 * or rbd-cache, or (without a prefix: the rbd plugin) cache.  Returns 1 if KEY was one of them (0 if not: the
 * caller goes on), -1 after nbdkit_error on a bad value.
 */
extern int blk_rbd_config (struct blk_rbd_params *p, const char *key,
                           const char *value);
extern void blk_rbd_params_free (struct blk_rbd_params *p);

/* Replace *DST by a copy of VALUE for the string parameter KEY; an
 * empty value is an error.  Returns 0 or -1 (nbdkit_error called).
 */
extern int blk_rbd_set_string (char **dst, const char *key, const char *value);

#endif /* NBDKIT_BLK_RBD_PARAMS_H */
