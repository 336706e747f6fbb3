/*  agent_internal.h: the agent's private state, shared by agent.c (the
    connection: register, heartbeats, reconnects), agent_actors.c (the
    hosted actors: ASSIGN, BATCH, RESULT) and agent_learning.c (models,
    corrections, retrain orders). All run on agent_run's thread.  */
#ifndef ANNOTATE_AGENT_INTERNAL_H
#define ANNOTATE_AGENT_INTERNAL_H

#include <stdatomic.h>

#include <czmq.h>

#include "actors/actors.h"
#include "agent/agent.h"
#include "model/model.h"
#include "wire/wire.h"

#define AGENT_LOG "worker"

typedef struct {
    char *name;
    actor_type_t type;
    zactor_t *actor;
    uint64_t *batches;          /* ids it holds, oldest first */
    size_t n_batches, cap_batches;
    uint64_t order;             /* retraining: the order it runs (TRAIN_DATA goes here) */
} hosted_t;

/*  A model arriving in MSG_MODEL chunks; one at a time.  */
typedef struct {
    uint64_t version;           /* 0: nothing being assembled */
    uint64_t total, checksum, received;
    uint8_t *buf;
    size_t cap;
} model_assembly_t;

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
    Annotate__V1__Assign *assigned; /* unpacked copy; ->model is the model spec */

    /* the current model: never mutated, actors get clones */
    model_t *model;
    uint64_t model_version;
    model_assembly_t assembly;

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

/* agent_learning.c */
void agent_on_model_chunk (agent_t *self, const Annotate__V1__ModelChunk *chunk);
void agent_on_corrections (agent_t *self, const Annotate__V1__Corrections *cs);
void agent_on_retrain (agent_t *self, const Annotate__V1__RetrainOrder *order);
void agent_on_train_data (agent_t *self, const Annotate__V1__TrainData *data);
/*  A PULL or UPLOAD from a retraining actor (the frames after the command).  */
void agent_on_learning_reply (agent_t *self, hosted_t *h, const char *cmd, zmsg_t *m);
/*  After an ASSIGN: drop the model when the spec no longer wants one.  */
void agent_learning_assigned (agent_t *self);
/*  Gives a newly started actor its copy of the current model.  */
void agent_give_model (agent_t *self, hosted_t *h);
void agent_learning_destroy (agent_t *self);

#endif
