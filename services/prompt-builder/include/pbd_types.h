/* pbd_types.h — the plain data the prompt builder works on.
 *
 * Everything here is BORROWED: the structs point at strings owned by the
 * caller (in the daemon: the protobuf replies of report-service,
 * graph-service and retrieval) and never free them. Optional strings may be
 * NULL or "". Keeping the library free of protobuf types lets the unit tests
 * build inputs by hand.
 */
#ifndef PBD_TYPES_H
#define PBD_TYPES_H
#include <stdbool.h>
#include <stddef.h>

#include "pbd_route.h"

typedef struct {
    const char *key;
    const char *value;
} pbd_param_t;

/* A number from the selected report row (Selection.payload). */
typedef struct {
    const char *name;
    double value;
} pbd_number_t;

/* One fact from report-service EntityFacts. */
typedef struct {
    const char *name;          /* machine name, e.g. "cost_total_usd" */
    const char *text;          /* value as shown, or a textual fact */
    const char *unit;          /* usd, pct, count, ... */
    const char *source_table;  /* where the figure comes from */
    const char *const *row_keys;
    size_t n_row_keys;
    double value;
    bool has_value;            /* false for purely textual facts */
} pbd_fact_t;

/* One retrieval hit. Its rank is its position in its own result list (0 =
 * best), which budget trimming uses. */
typedef struct {
    const char *doc_id;
    const char *corpus;        /* telemetry, docs, runbooks */
    const char *title;
    const char *url;
    const char *anchor;
    const char *text;
} pbd_hit_t;

typedef struct {
    const char *id;
    const char *lane;
    const char *label;
    const char *prompt;
} pbd_chip_t;

/* The source block entry (docs / runbooks cited). */
typedef struct {
    const char *title;
    const char *url;
    const char *corpus;
    const char *doc_id;
} pbd_source_t;

/* Everything a prompt is built from. The prompt is a pure function of this
 * struct: same contents, same bytes. */
typedef struct {
    const char *report_id;
    const char *report_title;
    const char *data_version;
    const pbd_param_t *params;     /* effective parameters (sorted by key on output) */
    size_t n_params;

    const char *entity_type;       /* selection; NULL/"" = none */
    const char *entity_id;
    const char *entity_label;
    const pbd_number_t *payload;
    size_t n_payload;

    const pbd_chip_t *chip;        /* NULL for a free question */
    const char *question;          /* chip prompt or free question (required) */

    const pbd_fact_t *facts;
    size_t n_facts;

    const char *subgraph_text;     /* graph-service rendering ("" = none) */
    const char *note;              /* visible note for the model, e.g. "retrieval unavailable" */

    const pbd_hit_t *telemetry;    /* retrieval order */
    size_t n_telemetry;
    const pbd_hit_t *docs;
    size_t n_docs;
    const pbd_hit_t *runbooks;
    size_t n_runbooks;

    const pbd_route_t *route;      /* required */
} pbd_input_t;

#endif
