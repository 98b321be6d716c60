/* nbdkit-blk: connecting to a Ceph cluster and opening an RBD image,
 * shared by the rbd plugin and the qcow2 plugin's rbd storage backend.
 *
 * Both modules take the same options (conf, id, keyring, cluster,
 * rbd-cache, timeout); the qcow2 plugin names them with an "rbd-"
 * prefix (rbd-conf=...).  blk_rbd_config parses them and every error
 * message names the parameter as the user spelled it.
 *
 * Thread model: blk_rbd_config runs in .config, blk_rbd_connect and
 * blk_rbd_disconnect once each (.after_fork / .cleanup or unload),
 * when no request runs.  The struct blk_rbd_conn they fill is
 * read-only in between; librbd's image handle is itself thread-safe.
 */
#ifndef NBDKIT_BLK_RBD_CONN_H
#define NBDKIT_BLK_RBD_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "spec.h"

struct blk_rbd_params {
  struct rbd_spec spec;         /* POOL[/NS]/IMAGE[@SNAP] */
  char *conf;                   /* NULL: librados' own search */
  char *id;                     /* NULL: "admin" */
  char *keyring;
  char *cluster;                /* NULL: "ceph" */
  int rbd_cache;                /* -1 as in the conf, 0, 1 */
  uint64_t timeout_ns;          /* 0: as in the conf */
  bool readonly;                /* open read-only (forced by a snapshot) */
  /* For messages: the prefix of the option names ("" or "rbd-") and
   * the name of the parameter holding the image ("image", "file").
   */
  const char *key_prefix;
  const char *image_key;
};
#define BLK_RBD_PARAMS_INIT(PREFIX, IMAGE_KEY) \
  { .rbd_cache = -1, .key_prefix = (PREFIX), .image_key = (IMAGE_KEY) }

struct blk_rbd_conn {
  rados_t cluster;
  rados_ioctx_t ioctx;
  rbd_image_t image;
  uint64_t features;            /* RBD_FEATURE_* */
  uint64_t obj_size;            /* object size (layout) */
  uint64_t stripe_unit;
  bool cluster_created, ioctx_created, image_open; /* for teardown */
};

/* Parse one of PREFIX{conf,id,keyring,cluster,timeout} or rbd-cache.
 * Returns 1 if KEY was one of them (0 if not: the caller goes on),
 * -1 after nbdkit_error on a bad value.
 */
extern int blk_rbd_config (struct blk_rbd_params *p, const char *key,
                           const char *value);
extern void blk_rbd_params_free (struct blk_rbd_params *p);

/* Replace *DST by a copy of VALUE for the string parameter KEY; an
 * empty value is an error.  Returns 0 or -1 (nbdkit_error called).
 */
extern int blk_rbd_set_string (char **dst, const char *key, const char *value);

/* Connect and open P->spec (read-only if P->readonly).  On failure
 * nbdkit_error says what to check; call blk_rbd_disconnect anyway.
 * Never before nbdkit forks: librados' threads do not survive it.
 */
extern int blk_rbd_connect (const struct blk_rbd_params *p,
                            struct blk_rbd_conn *c);
extern void blk_rbd_disconnect (const struct blk_rbd_params *p,
                                struct blk_rbd_conn *c);

#endif /* NBDKIT_BLK_RBD_CONN_H */
