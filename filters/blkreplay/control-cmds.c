/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-blk blkreplay: control commands (blkreplay-control=SOCKET).
 *
 *   mark NAME   append a mark record; answers its position (the
 *               request records before it in the log)
 *   status      the log writer's counters, and its error if it failed
 *   sync        fdatasync the log; answers once every record stored
 *               before it is durable
 *
 * Handlers run on control connection threads, concurrently with
 * requests: all the state they touch is the recorder's (its q_lock)
 * or read-only (struct br_control_info).  No strerror (blk_errstr).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock-ns.h"
#include "control-cmds.h"
#include "errstr.h"
#include "recorder.h"
#include "replaylog.h"

static int
refuse_in_replay (const struct br_control_info *in, const char *cmd,
                  struct blk_ctl_reply *r)
{
  return blk_ctl_err (r, "%s: the filter is replaying '%s' "
                      "(blkreplay-mode=replay): %s applies to recording "
                      "(blkreplay-mode=record)", cmd, in->path, cmd);
}

static int
cmd_mark (void *opaque, int argc, char **argv, const char *rest,
          struct blk_ctl_reply *r)
{
  const struct br_control_info *in = opaque;
  struct blklog_record rec;
  size_t len = strlen (rest);
  uint64_t seq;
  char why[256];

  if (in->replay)
    return refuse_in_replay (in, "mark", r);
  /* The name is the rest of the line (it may hold spaces); blanks at
   * its end are the separator's, not the name's.
   */
  while (len > 0 && (rest[len - 1] == ' ' || rest[len - 1] == '\t'))
    len--;
  if (blklog_mark_name_check (rest, len, why, sizeof why) == -1)
    return blk_ctl_err (r, "mark: %s (usage: mark NAME; the mark was not "
                        "recorded)", why);
  memset (&rec, 0, sizeof rec);
  rec.type = BLKLOG_MARK;
  rec.time_ns = blk_mono_ns () - *in->base_ns;
  rec.name = rest;
  rec.name_len = (uint16_t) len;
  if (recorder_mark (&rec, &seq) == -1) {
    if (errno == ENODATA)
      return blk_ctl_err (r, "mark: nothing is recorded yet (no client "
                          "has connected): the log starts with the first "
                          "connection, a mark before it would only mark "
                          "the start");
    return blk_ctl_err (r, "mark: the log '%s' has failed (%s): the mark "
                        "was not recorded", in->path, blk_errstr (errno));
  }
  return blk_ctl_ok_value (r, (long long) seq);
}

static int
cmd_sync (void *opaque, int argc, char **argv, const char *rest,
          struct blk_ctl_reply *r)
{
  const struct br_control_info *in = opaque;
  struct recorder_status s;

  if (in->replay)
    return refuse_in_replay (in, "sync", r);
  if (recorder_sync () == -1)
    return blk_ctl_err (r, "sync: the log '%s' has failed: %s (see "
                        "nbdkit-blkreplay-filter(1), FAILURE BEHAVIOUR)",
                        in->path, blk_errstr (errno));
  recorder_status (&s);
  return blk_ctl_ok (r, "%" PRIu64 " records, %" PRIu64 " bytes durable",
                     s.records, s.durable);
}

static void
json_str (FILE *fp, const char *key, const char *s)
{
  fprintf (fp, ",\"%s\":", key);
  blk_ctl_json_string (fp, s);
}

static int
cmd_status (void *opaque, int argc, char **argv, const char *rest,
            struct blk_ctl_reply *r)
{
  const struct br_control_info *in = opaque;
  struct recorder_status s;
  char *text = NULL, *json = NULL, err[256] = "";
  size_t tlen, jlen;
  FILE *tf, *jf;
  int ret;

  tf = open_memstream (&text, &tlen);
  jf = open_memstream (&json, &jlen);
  if (tf == NULL || jf == NULL) {
    if (tf) fclose (tf);
    if (jf) fclose (jf);
    free (text);
    free (json);
    return blk_ctl_err (r, "status: out of memory");
  }
  fprintf (jf, "{\"mode\":\"%s\"", in->replay ? "replay" : "record");
  json_str (jf, "log", in->path);
  if (in->replay)
    fprintf (tf, "mode replay, log %s", in->path);
  else {
    recorder_status (&s);
    if (s.err)
      snprintf (err, sizeof err, "%s %s", s.sync_failed ? "syncing failed:"
                : "writing failed:", blk_errstr (s.err));
    fprintf (tf, "mode record, %" PRIu64 " records (%" PRIu64 " requests), "
             "%" PRIu64 " bytes written (%" PRIu64 " durable), %" PRIu64
             " bytes allocated, %" PRIu64 " lost records, data %s, log %s%s%s",
             s.records, s.requests, s.bytes, s.durable, s.allocated,
             s.lost, blklog_data_name (in->data_mode), in->path,
             s.err ? ", FAILED: " : "", err);
    /* queue_bytes, queue_bound and waits stay for the clients that read
     * them: always 0 since records go straight into the mapped file.
     */
    fprintf (jf, ",\"data\":\"%s\",\"records\":%" PRIu64 ",\"requests\":%"
             PRIu64 ",\"bytes\":%" PRIu64 ",\"durable_bytes\":%" PRIu64
             ",\"allocated_bytes\":%" PRIu64 ",\"queue_bytes\":0,"
             "\"queue_bound\":0,\"waits\":0,\"lost\":%" PRIu64
             ",\"started\":%s",
             blklog_data_name (in->data_mode), s.records, s.requests,
             s.bytes, s.durable, s.allocated, s.lost,
             s.started ? "true" : "false");
    if (s.err) {
      json_str (jf, "error", err);
      if (s.first_lost_id)
        fprintf (jf, ",\"first_lost_id\":%" PRIu64, s.first_lost_id);
    }
    else
      fprintf (jf, ",\"error\":null");
  }
  fprintf (jf, "}");
  if (fclose (tf) == EOF || fclose (jf) == EOF) {
    free (text);
    free (json);
    return blk_ctl_err (r, "status: out of memory");
  }
  ret = blk_ctl_ok_json (r, text, json);
  free (text);
  free (json);
  return ret;
}

static const struct blk_ctl_command blkreplay_cmds[] = {
  { "mark", "mark NAME",
    "append a mark to the log; answers the requests recorded before it",
    0, BLK_CTL_MAX_WORDS - 1, cmd_mark },
  { "status", "status", "the log writer's counters and error", 0, 0,
    cmd_status },
  { "sync", "sync", "fdatasync the log now", 0, 0,
    cmd_sync },
  { .name = NULL }
};

struct blk_ctl *
br_control_new (const struct br_control_info *info)
{
  struct blk_ctl *c = blk_ctl_new ("blkreplay", (void *) info);

  if (c && blk_ctl_register (c, blkreplay_cmds) == -1) {
    blk_ctl_free (c);
    return NULL;
  }
  return c;
}
