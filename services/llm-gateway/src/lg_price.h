/* lg_price.h — price table for the estimated cost of an answer.
 *
 * Text format (data/prices.tsv, embedded in the binary; README "Cost"):
 * '#' comments, blank lines, and rows "provider model-prefix input output"
 * separated by blanks, prices in USD per 1 million tokens. Lookup takes the
 * rows of the answer's provider and picks the longest model prefix that
 * matches ("*" matches every model). Immutable after loading; thread-safe.
 */
#ifndef LG_PRICE_H
#define LG_PRICE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _lg_prices_t lg_prices_t;

/* Parses a table from text. NULL on error with "line N: reason" in err. */
lg_prices_t *lg_prices_parse (const char *text, char *err, size_t errsize);
/* The table compiled into the binary (data/prices.tsv). */
lg_prices_t *lg_prices_builtin (char *err, size_t errsize);
/* Reads and parses a file (at most 1 MiB). */
lg_prices_t *lg_prices_load_file (const char *path, char *err, size_t errsize);
void lg_prices_destroy (lg_prices_t **self_p);

/* Prices per 1M tokens for (provider, model); false when no row matches. */
bool lg_prices_lookup (const lg_prices_t *self, const char *provider, const char *model, double *in_per_m,
                       double *out_per_m);
/* Estimated USD cost; *priced (may be NULL) tells whether a row matched
 * (otherwise the cost is 0). */
double lg_prices_cost (const lg_prices_t *self, const char *provider, const char *model, uint64_t tokens_in,
                       uint64_t tokens_out, bool *priced);
size_t lg_prices_count (const lg_prices_t *self);
#endif
