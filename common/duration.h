/*
 * duration - Go's time.ParseDuration syntax, which users know from
 * Kubernetes tooling: "300ms", "30s", "5m", "1h", "2h30m", "1.5h",
 * "1h0m0.5s"; units ns, us (and µs), ms, s, m, h; "0" alone is zero.
 * An optional leading '+' is accepted; '-' is accepted by the parser
 * (Go does) but callers reject negative results.
 */
#ifndef PAMOP_DURATION_H
#define PAMOP_DURATION_H

#include <stdint.h>

/* Parses s into nanoseconds. Returns 0 on success, -1 on syntax error or
 * overflow (beyond int64 nanoseconds). */
int duration_parse(const char *s, int64_t *ns);

#endif
