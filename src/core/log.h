/* log: structured JSON-lines logging to stderr.
 *
 * Design: one JSON object per line, formatted into a thread-local buffer with our own string
 * escaper and written with a single write(2) so concurrent lines never interleave. Levels are
 * small ints; a message below the threshold costs one comparison. Fields are passed as
 * alternating key/value C strings ending with NULL; values are emitted as JSON strings, or as raw
 * JSON when the key starts with '#' (the '#' is dropped), e.g. log_info("http", "request",
 * "path", p, "#status", "200", NULL).
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

void log_set_level(int level);
int log_get_level(void);
/* Parses "debug|info|warn|error|off"; returns -1 when unknown. */
int log_level_parse(const char *s);
/* fd to write to (default 2). */
void log_set_fd(int fd);

void log_emit(int level, const char *comp, const char *msg, ...) __attribute__((sentinel));

#define log_debug(comp, ...) do { if (log_get_level() <= LOG_DEBUG) log_emit(LOG_DEBUG, comp, __VA_ARGS__); } while (0)
#define log_info(comp, ...)  do { if (log_get_level() <= LOG_INFO) log_emit(LOG_INFO, comp, __VA_ARGS__); } while (0)
#define log_warn(comp, ...)  log_emit(LOG_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) log_emit(LOG_ERROR, comp, __VA_ARGS__)

#endif
