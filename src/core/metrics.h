/* metrics: process-wide counters and latency histograms, exposed in the Prometheus text format.
 *
 * Design: a fixed, small set of metric families registered at start (no allocation on the hot
 * path); each series is an atomic counter or a histogram with fixed bucket bounds. Updating is
 * lock-free. Labels are fixed at registration.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdint.h>

#include "core/util.h"

typedef struct metric_counter metric_counter;
typedef struct metric_histogram metric_histogram;

/* Registers (or returns the existing) counter series `name{labels}`; labels like `code="200"`
 * or "". help is shown once per family. Never fails (aborts past 256 series). */
metric_counter *metrics_counter(const char *name, const char *labels, const char *help);
void metrics_inc(metric_counter *c, uint64_t n);
uint64_t metrics_counter_value(const metric_counter *c);

/* Histogram in seconds with bounds 0.0005 … 60 s. */
metric_histogram *metrics_histogram(const char *name, const char *labels, const char *help);
void metrics_observe_us(metric_histogram *h, int64_t us);

/* Appends the exposition text of every registered series to out. */
int metrics_render(buf *out);

#endif
