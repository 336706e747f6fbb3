/*  retraining_actor.c: the retraining actor.

    It will train new model versions from accepted labels and publish
    them to the annotation actors. Until the learning loop exists it only
    starts, reports itself idle ("waiting for the learning loop") and stops
    cleanly.

    Takes on its pipe:
      "STATUS"                  -> "STATUS" ["idle: waiting for the learning loop"]
      "CONFIG" [packed Assign]  accepted and ignored for now
      "$TERM"                   stop
*/
#include "actors/actors.h"

#include "util/util.h"

#define LOG "retraining"
#define IDLE "idle: waiting for the learning loop"

void
retraining_actor (zsock_t *pipe, void *args)
{
    actor_config_t *config = actor_config_copy (args);
    zsock_signal (pipe, 0);
    log_info (LOG, "%s started on %s; %s", config->name, config->worker, IDLE);
    while (true) {
        zmsg_t *m = zmsg_recv (pipe);
        if (!m) {
            if (zsys_interrupted)
                break;
            continue;
        }
        char *cmd = zmsg_popstr (m);
        bool stop = !cmd || streq (cmd, "$TERM");
        if (cmd && streq (cmd, "STATUS"))
            zsock_send (pipe, "ss", "STATUS", IDLE);
        zstr_free (&cmd);
        zmsg_destroy (&m);
        if (stop)
            break;
    }
    log_info (LOG, "%s stopped", config->name);
    actor_config_free (&config);
}
