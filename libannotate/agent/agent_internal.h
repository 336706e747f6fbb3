/*  agent_internal.h: the agent's private state, shared by agent.c (the
    connection: register, heartbeats, reconnects) and agent_actors.c (the
    hosted actors: ASSIGN, BATCH, RESULT). Both run on agent_run's thread.  */
#ifndef ANNOTATE_AGENT_INTERNAL_H
#define ANNOTATE_AGENT_INTERNAL_H

#include <stdatomic.h>

#include <czmq.h>

#include "actors/actors.h"
#include "agent/agent.h"
#include "wire/wire.h"

#define AGENT_LOG "worker"

typedef struct {
    char *name;
    actor_type_t type;
    zactor_t *actor;
    uint64_t *batches;          /* ids it holds, oldest first */
    size_t n_batches, cap_batches;
} hosted_t;

struct agent {
    char *endpoint;
    char *name;
    char *host;
    uint32_t capacity;
    char **tags;
    size_t n_tags;
    size_t max_message_bytes;
    uint32_t protocol;

    zsock_t *dealer;
    zpoller_t *poller;
    bool registered;
    char *cluster;
    uint32_t heartbeat_ms, liveness, max_batch;
    int64_t last_recv_us;
    int64_t next_heartbeat_us;
    int64_t register_sent_us;

    /* from the last ASSIGN */
    hosted_t **actors;
    size_t n_actors;
    uint32_t vector_dim;
    uint8_t *assign;            /* packed, for "CONFIG" */
    size_t assign_len;

    atomic_bool stop;
    int exit_code;              /* -1 while running */
};

/* agent_actors.c */
void agent_on_assign (agent_t *self, const Annotate__V1__Assign *as);
void agent_on_batch (agent_t *self, uint64_t correlation, const Annotate__V1__Batch *batch);
/*  Handles the messages waiting on the actors' pipes.  */
void agent_service_actors (agent_t *self);
void agent_stop_actors (agent_t *self);
uint32_t agent_in_flight (const agent_t *self);
/*  Sends an empty RESULT so the coordinator gets its credit back.  */
void agent_send_empty_result (agent_t *self, uint64_t batch_id, const char *actor);

#endif
