/*  agent.h: the worker runtime (what annotate-worker runs).

    An agent connects a DEALER to the coordinator, registers under its name,
    exchanges heartbeats, and hosts the actors the coordinator assigns to
    it (actors/actors.h), one zactor each. Batches from the coordinator go
    to the least busy annotation actor; each actor's RESULT goes back as
    MSG_RESULT. Every message from the coordinator is checked before use.

    The learning loop (agent_learning.c, docs/protocol.md): models arrive
    in MSG_MODEL chunks and every annotation actor labels with its own
    copy; corrections go to every annotation actor; a retrain order goes
    to the retraining actor it names, whose pulls and uploads the agent
    relays. Training runs on that actor's thread, never on the agent's.

    It survives a coordinator restart: when the coordinator is silent for
    liveness * heartbeat_ms (or says RECONNECT), the agent registers again,
    on a fresh socket if the old one went quiet. A REJECT is final: the run
    ends with an error (a wrong protocol version, a name already taken).
*/
#ifndef ANNOTATE_AGENT_H
#define ANNOTATE_AGENT_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_DEFAULT_ENDPOINT "tcp://127.0.0.1:7401"
#define AGENT_MAX_TAGS         64

typedef struct {
    const char *coordinator;        /* NULL: AGENT_DEFAULT_ENDPOINT */
    const char *name;               /* required, 1..128 bytes of UTF-8 */
    uint32_t capacity;              /* batches held at once; 0: 4 */
    const char *const *tags;        /* key=value */
    size_t n_tags;
    size_t max_message_bytes;       /* 0: 16 MiB */
    uint32_t heartbeat_ms;          /* used until WELCOME says otherwise; 0: 1000 */
    uint32_t liveness;              /* likewise; 0: 3 */
    uint32_t protocol_version;      /* 0: the real one; tests set others */
} agent_config_t;

typedef struct agent agent_t;

/*  NULL (and logs why) when the configuration is invalid.  */
agent_t *agent_new (const agent_config_t *config);
void agent_destroy (agent_t **self_p);

/*  Runs until SIGINT/SIGTERM (zsys_interrupted) or agent_stop, then says
    GOODBYE and stops its actors: returns 0. Returns 1 when the coordinator
    rejected the worker.  */
int agent_run (agent_t *self);

/*  Asks a running agent_run to return; safe from any thread.  */
void agent_stop (agent_t *self);

#endif
