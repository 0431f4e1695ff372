/* metrics: fixed-capacity registry of counters and histograms (see metrics.h). Registration
 * takes a mutex; updates are relaxed atomics. */
#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 256
static const double bounds_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBOUNDS (sizeof bounds_s / sizeof bounds_s[0])

struct metric_counter {
    _Atomic uint64_t value;
};

struct metric_histogram {
    _Atomic uint64_t buckets[NBOUNDS + 1];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

typedef struct series {
    char *name, *labels, *help;
    bool is_hist;
    void *m;
} series;

static series g_series[MAX_SERIES];
static size_t g_n;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void *find_or_add(const char *name, const char *labels, const char *help, bool hist)
{
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < g_n; i++) {
        if (strcmp(g_series[i].name, name) == 0 && strcmp(g_series[i].labels, labels) == 0) {
            pthread_mutex_unlock(&g_mu);
            return g_series[i].m;
        }
    }
    if (g_n == MAX_SERIES)
        abort();
    series *s = &g_series[g_n++];
    s->name = xstrdup(name);
    s->labels = xstrdup(labels ? labels : "");
    s->help = help ? xstrdup(help) : NULL;
    s->is_hist = hist;
    s->m = hist ? xcalloc(1, sizeof(metric_histogram)) : xcalloc(1, sizeof(metric_counter));
    pthread_mutex_unlock(&g_mu);
    return s->m;
}

metric_counter *metrics_counter(const char *name, const char *labels, const char *help)
{
    return find_or_add(name, labels ? labels : "", help, false);
}

void metrics_inc(metric_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t metrics_counter_value(const metric_counter *c)
{
    return atomic_load_explicit(&((metric_counter *)c)->value, memory_order_relaxed);
}

metric_histogram *metrics_histogram(const char *name, const char *labels, const char *help)
{
    return find_or_add(name, labels ? labels : "", help, true);
}

void metrics_observe_us(metric_histogram *h, int64_t us)
{
    if (us < 0)
        us = 0;
    double s = (double)us / 1e6;
    size_t i = 0;
    while (i < NBOUNDS && s > bounds_s[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

static int render_labels(buf *out, const char *labels, const char *extra)
{
    bool a = labels && *labels, b = extra && *extra;
    if (!a && !b)
        return 0;
    return buf_printf(out, "{%s%s%s}", a ? labels : "", a && b ? "," : "", b ? extra : "");
}

int metrics_render(buf *out)
{
    pthread_mutex_lock(&g_mu);
    size_t n = g_n;
    pthread_mutex_unlock(&g_mu);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        series *s = &g_series[i];
        bool first = true;
        for (size_t j = 0; j < i; j++)
            if (strcmp(g_series[j].name, s->name) == 0)
                first = false;
        if (first) {
            if (s->help)
                rc |= buf_printf(out, "# HELP %s %s\n", s->name, s->help);
            rc |= buf_printf(out, "# TYPE %s %s\n", s->name, s->is_hist ? "histogram" : "counter");
        }
        if (!s->is_hist) {
            rc |= buf_printf(out, "%s", s->name);
            rc |= render_labels(out, s->labels, NULL);
            rc |= buf_printf(out, " %llu\n", (unsigned long long)metrics_counter_value(s->m));
            continue;
        }
        metric_histogram *h = s->m;
        uint64_t cum = 0;
        for (size_t b = 0; b <= NBOUNDS; b++) {
            cum += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
            char le[48];
            if (b < NBOUNDS)
                snprintf(le, sizeof le, "le=\"%g\"", bounds_s[b]);
            else
                snprintf(le, sizeof le, "le=\"+Inf\"");
            rc |= buf_printf(out, "%s_bucket", s->name);
            rc |= render_labels(out, s->labels, le);
            rc |= buf_printf(out, " %llu\n", (unsigned long long)cum);
        }
        rc |= buf_printf(out, "%s_sum", s->name);
        rc |= render_labels(out, s->labels, NULL);
        rc |= buf_printf(out, " %.6f\n", (double)atomic_load(&h->sum_us) / 1e6);
        rc |= buf_printf(out, "%s_count", s->name);
        rc |= render_labels(out, s->labels, NULL);
        rc |= buf_printf(out, " %llu\n", (unsigned long long)atomic_load(&h->count));
    }
    return rc ? SL_ETOOBIG : 0;
}
