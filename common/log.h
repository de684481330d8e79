/*
 * log - one structured line per event, on stderr.
 *
 * Format is logfmt by default or JSON (log_init). Fields are given as
 * alternating key/value strings ending in NULL. Values are quoted and
 * escaped as the format needs. Never pass a secret value: log names,
 * keys and hashes only.
 */
#ifndef PAMOP_LOG_H
#define PAMOP_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* component: "supervisor", "worker", "pamsim"; json: JSON lines instead of logfmt. */
void log_init(const char *component, bool json, enum log_level min);
/* Parses "debug"/"info"/"warn"/"error"; returns -1 on anything else. */
int log_level_parse(const char *s);

/*
 * log_kv - write one line: ts, level, component, msg, then key/value pairs.
 * Example: log_kv(LOG_INFO, "synced", "object", "ns/name", "hash", h, NULL);
 * Thread-safe: each line is written with a single write(2).
 */
void log_kv(enum log_level lvl, const char *msg, ...)
	__attribute__((sentinel));

/* log_vkv - log_kv for wrappers that already hold a va_list of pairs. */
void log_vkv(enum log_level lvl, const char *msg, va_list ap);

/* log_enabled - true if lines at lvl pass the filter (skip costly fields). */
bool log_enabled(enum log_level lvl);

/* Convenience: printf-style message, no extra fields. */
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
