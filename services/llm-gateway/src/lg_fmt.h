/* lg_fmt.h — the narrator's documented number formatter.
 *
 * Units and their forms (README "Number formats"):
 *   usd      $1,234.56   (two decimals, thousands separators, -$12.00)
 *   pct      12.3%       (value already in percent points)
 *   ratio    0.71        (two decimals)
 *   count    1,234       (integral values; otherwise one decimal)
 *   minutes  26.6 min    seconds 12.5 s    hours 3.2 h    gb 10.5 GB   dbu 1,234.5 DBU
 *   other    up to two decimals, trailing zeros removed (12.5, 3)
 * Output is deterministic (C locale digits, our own grouping); rounding is
 * that of printf on the exact binary value, so exact ties go to even
 * (7801.25 -> 7,801.2).
 */
#ifndef LG_FMT_H
#define LG_FMT_H
#include "buf.h"

/* Appends `v` formatted for `unit` (NULL = other). 0 or BUF_E_*. */
int lg_fmt_number (buf_t *out, double v, const char *unit);
#endif
