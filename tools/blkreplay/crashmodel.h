/* SPDX-License-Identifier: BSD-3-Clause */
/* blkreplay tool: the crash-consistency model (docs/crash-testing.md).
 *
 * Pure logic, no files: which writes of a log are durable at each
 * point a power cut could hit, and how to move an image from one such
 * state to another writing only what differs.  The crash command, the
 * unit test and the fuzz target all drive it through this header.
 *
 * The model is dm-log-writes' ordering:
 * - a write, zero or trim is durable at a flush if it completed before
 *   the flush was submitted (complete_ns < the flush's submit_ns);
 * - a FUA write (zero, trim) is durable once it completed;
 * - the state at a point is the base image plus the durable writes,
 *   applied in completion (log) order.
 * Requests that failed make nothing durable and change nothing.
 *
 * Not thread-safe: one model and one builder per thread.
 */
#ifndef BLKREPLAY_CRASHMODEL_H
#define BLKREPLAY_CRASHMODEL_H

#include <stddef.h>
#include <stdint.h>

/* One request of the log, in log (completion) order. */
struct cm_req {
  uint64_t id, offset, length, submit_ns, complete_ns;
  uint32_t flags, error;
  uint8_t op;                   /* enum blklog_op */
  const unsigned char *data;    /* writes: LENGTH bytes (full payload) */
};

/* What a trim leaves: NBD promises nothing, so by default the old
 * contents (the trim changes nothing); CM_TRIM_ZERO reads zeroes.
 */
enum cm_trim { CM_TRIM_KEEP, CM_TRIM_ZERO };

struct cm_model {
  const struct cm_req *reqs;    /* borrowed, in log order */
  size_t nreqs;
  uint64_t size;                /* the image's size */
  enum cm_trim trim;
  /* The requests that change data (successful writes, zeroes, and
   * trims with CM_TRIM_ZERO), in log order: indices into reqs.
   */
  size_t *w;
  size_t nw;
  /* Per entry of w: the log position (index into reqs) from which it
   * is durable, SIZE_MAX if never.
   */
  size_t *durable_at;
};

/* Builds the model.  -1 with a message in WHY (a write without its
 * data, a request beyond SIZE, out of memory).
 */
extern int cm_model_init (struct cm_model *m, const struct cm_req *reqs,
                          size_t nreqs, uint64_t size, enum cm_trim trim,
                          char *why, size_t whylen);
extern void cm_model_free (struct cm_model *m);

/* ---- crash points ---- */

#define CM_PT_FLUSH  1u         /* after each successful flush */
#define CM_PT_FUA    2u         /* after each successful FUA write */
#define CM_PT_WRITE  4u         /* after each write: all acknowledged */
#define CM_PT_SPREAD 8u         /* N points spread evenly over the log */
/* A mark record (crash.c adds these: marks are not requests, the model
 * only sees the position of the last request before the mark).
 */
#define CM_PT_MARK   16u

struct cm_point {
  size_t pos;                   /* index into reqs of the request */
  unsigned kind;                /* one CM_PT_* */
  /* The state holds the durable writes; ACKED: also every write that
   * completed up to pos (the device wrote back in completion order).
   */
  int acked;
};

/* The points of KINDS between log positions FROM and TO (inclusive),
 * in log order, each position once (the first kind in the order flush,
 * fua, write, spread names it).  *PTS is malloc'ed.  -1 on OOM.
 */
extern int cm_points (const struct cm_model *m, unsigned kinds,
                      size_t nspread, size_t from, size_t to,
                      struct cm_point **pts, size_t *npts);

/* ---- states ---- */

/* A write persisted in part: the 512-byte sectors (of the device,
 * counted from the sector holding the write's first byte) with a 1 in
 * MASK.  W is an index into m->w; no torn write: W == SIZE_MAX.
 */
struct cm_torn {
  size_t w;
  uint8_t *mask;                /* one byte per sector; owned by caller */
  size_t nsectors;
};

/* The target of a point: SET[i] = 1 if m->w[i] is in the state. */
extern void cm_target (const struct cm_model *m, const struct cm_point *pt,
                       uint8_t *set);

/* The image the builder writes, and the pristine base it reads from
 * (reads past the base's end must give zeroes).  0 or -1 (errno set).
 */
struct cm_io {
  void *opaque;
  int (*base_pread) (void *opaque, void *buf, size_t len, uint64_t off);
  int (*pwrite) (void *opaque, const void *buf, size_t len, uint64_t off);
};

struct cm_builder {
  const struct cm_model *m;
  struct cm_io io;
  uint8_t *cur;                 /* the set now in the image */
  size_t maxcur;                /* highest index set in cur, or SIZE_MAX */
  struct cm_torn torn;          /* the torn write now in the image */
  uint8_t *torn_mask;           /* builder's copy of torn.mask */
  unsigned char *buf;           /* chunk buffer of the slow path */
  /* Statistics. */
  uint64_t bytes_written, fast, slow;
};

/* The image starts as the base: the empty set. */
extern int cm_builder_init (struct cm_builder *b, const struct cm_model *m,
                            const struct cm_io *io);
extern void cm_builder_free (struct cm_builder *b);

/* Moves the image to the state SET (plus TORN if not NULL), writing
 * only the ranges whose contents may differ.  0, or -1 (errno set by
 * the io callbacks; the image is then undefined: start over).
 */
extern int cm_build (struct cm_builder *b, const uint8_t *set,
                     const struct cm_torn *torn);

/* The contents of one range of the state SET+TORN computed from
 * scratch into BUF (the oracle of the tests; also the slow path).
 */
extern int cm_render (const struct cm_model *m, const struct cm_io *io,
                      const uint8_t *set, const struct cm_torn *torn,
                      unsigned char *buf, size_t len, uint64_t off);

/* ---- seeded variants (CrashMonkey's model) ---- */

/* A small seeded generator (xorshift64*): the same seed gives the same
 * variants on every machine.
 */
extern uint64_t cm_rand (uint64_t *state);

/* Reorder variant number NTH (from 1): SET (a point's target) plus a
 * non-empty subset of the writes completed by PT->pos but not durable
 * there.  With fewer than 20 such writes the NTH subset in binary
 * counting order (so variants never repeat), otherwise a random one
 * drawn from RNG.  0: no (more) variant; 1: SET extended; -1: OOM.
 */
extern int cm_reorder (const struct cm_model *m, const struct cm_point *pt,
                       uint8_t *set, uint64_t nth, uint64_t *rng);

/* Torn variant: one write completed by PT->pos but not durable there,
 * covering at least two sectors, persisted in part (a random non-empty
 * proper subset of its sectors).  0: no candidate; 1: TORN filled
 * (TORN->mask malloc'ed, free it); -1: out of memory.
 */
extern int cm_tear (const struct cm_model *m, const struct cm_point *pt,
                    const uint8_t *set, struct cm_torn *torn,
                    uint64_t *rng);

#endif /* BLKREPLAY_CRASHMODEL_H */
