/* workpool: worker threads over a bounded ring queue, and the timer service (see workpool.h). */
#include "core/workpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/util.h"

typedef struct job {
    work_fn fn;
    void *arg;
} job;

struct workpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *ring;
    size_t cap, head, count, running;
    bool stopping;
    pthread_t *threads;
    unsigned nthreads;
};

static void *worker_main(void *arg)
{
    workpool *wp = arg;
    pthread_mutex_lock(&wp->mu);
    for (;;) {
        while (wp->count == 0 && !wp->stopping)
            pthread_cond_wait(&wp->cv, &wp->mu);
        if (wp->count == 0 && wp->stopping)
            break;
        job j = wp->ring[wp->head];
        wp->head = (wp->head + 1) % wp->cap;
        wp->count--;
        wp->running++;
        pthread_mutex_unlock(&wp->mu);
        j.fn(j.arg);
        pthread_mutex_lock(&wp->mu);
        wp->running--;
    }
    pthread_mutex_unlock(&wp->mu);
    return NULL;
}

workpool *workpool_start(unsigned nthreads, size_t max_queue)
{
    workpool *wp = xcalloc(1, sizeof *wp);
    pthread_mutex_init(&wp->mu, NULL);
    pthread_cond_init(&wp->cv, NULL);
    wp->cap = max_queue ? max_queue : 1;
    wp->ring = xcalloc(wp->cap, sizeof(job));
    wp->nthreads = nthreads ? nthreads : 1;
    wp->threads = xcalloc(wp->nthreads, sizeof(pthread_t));
    for (unsigned i = 0; i < wp->nthreads; i++)
        if (pthread_create(&wp->threads[i], NULL, worker_main, wp) != 0)
            abort();
    return wp;
}

int workpool_submit(workpool *wp, work_fn fn, void *arg)
{
    pthread_mutex_lock(&wp->mu);
    if (wp->count == wp->cap || wp->stopping) {
        pthread_mutex_unlock(&wp->mu);
        return SL_ETOOBIG;
    }
    wp->ring[(wp->head + wp->count) % wp->cap] = (job){fn, arg};
    wp->count++;
    pthread_cond_signal(&wp->cv);
    pthread_mutex_unlock(&wp->mu);
    return 0;
}

size_t workpool_pending(workpool *wp)
{
    pthread_mutex_lock(&wp->mu);
    size_t n = wp->count + wp->running;
    pthread_mutex_unlock(&wp->mu);
    return n;
}

void workpool_stop(workpool *wp)
{
    if (!wp)
        return;
    pthread_mutex_lock(&wp->mu);
    wp->stopping = true;
    pthread_cond_broadcast(&wp->cv);
    pthread_mutex_unlock(&wp->mu);
    for (unsigned i = 0; i < wp->nthreads; i++)
        pthread_join(wp->threads[i], NULL);
    free(wp->threads);
    free(wp->ring);
    pthread_cond_destroy(&wp->cv);
    pthread_mutex_destroy(&wp->mu);
    free(wp);
}

/* ---- timers ---- */

typedef struct timer_list {
    int64_t duration_ms;
    timer_entry *head, *tail;
    struct timer_list *next;
} timer_list;

struct timer_service {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    timer_list *lists;
    bool stopping;
    pthread_t thread;
};

static void *timer_main(void *arg)
{
    timer_service *ts = arg;
    pthread_mutex_lock(&ts->mu);
    while (!ts->stopping) {
        int64_t now = mono_ms();
        timer_entry *due = NULL;
        int64_t next = INT64_MAX;
        for (timer_list *l = ts->lists; l; l = l->next) {
            if (!l->head)
                continue;
            if (l->head->_deadline_ms <= now) {
                due = l->head;
                break;
            }
            if (l->head->_deadline_ms < next)
                next = l->head->_deadline_ms;
        }
        if (due) {
            timer_list *l = due->_list;
            l->head = due->_next;
            if (l->head)
                l->head->_prev = NULL;
            else
                l->tail = NULL;
            due->_list = NULL;
            due->_next = due->_prev = NULL;
            work_fn fn = due->_fn;
            void *a = due->_arg;
            pthread_mutex_unlock(&ts->mu);
            fn(a);
            pthread_mutex_lock(&ts->mu);
            continue;
        }
        if (next == INT64_MAX) {
            pthread_cond_wait(&ts->cv, &ts->mu);
        } else {
            struct timespec t;
            t.tv_sec = next / 1000;
            t.tv_nsec = (next % 1000) * 1000000L;
            pthread_cond_timedwait(&ts->cv, &ts->mu, &t);
        }
    }
    pthread_mutex_unlock(&ts->mu);
    return NULL;
}

timer_service *timer_start(void)
{
    timer_service *ts = xcalloc(1, sizeof *ts);
    pthread_mutex_init(&ts->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ts->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&ts->thread, NULL, timer_main, ts) != 0)
        abort();
    return ts;
}

void timer_add(timer_service *ts, timer_entry *t, int64_t duration_ms, work_fn fn, void *arg)
{
    if (duration_ms < 1)
        duration_ms = 1;
    t->_fn = fn;
    t->_arg = arg;
    t->_next = NULL;
    pthread_mutex_lock(&ts->mu);
    t->_deadline_ms = mono_ms() + duration_ms;
    timer_list *l = ts->lists;
    while (l && l->duration_ms != duration_ms)
        l = l->next;
    if (!l) {
        l = xcalloc(1, sizeof *l);
        l->duration_ms = duration_ms;
        l->next = ts->lists;
        ts->lists = l;
    }
    t->_list = l;
    t->_prev = l->tail;
    if (l->tail)
        l->tail->_next = t;
    else
        l->head = t;
    l->tail = t;
    bool wake = l->head == t;
    if (wake)
        pthread_cond_signal(&ts->cv);
    pthread_mutex_unlock(&ts->mu);
}

int timer_cancel(timer_service *ts, timer_entry *t)
{
    pthread_mutex_lock(&ts->mu);
    timer_list *l = t->_list;
    if (!l) {
        pthread_mutex_unlock(&ts->mu);
        return 0;
    }
    if (t->_prev)
        t->_prev->_next = t->_next;
    else
        l->head = t->_next;
    if (t->_next)
        t->_next->_prev = t->_prev;
    else
        l->tail = t->_prev;
    t->_list = NULL;
    t->_next = t->_prev = NULL;
    pthread_mutex_unlock(&ts->mu);
    return 1;
}

void timer_stop(timer_service *ts)
{
    if (!ts)
        return;
    pthread_mutex_lock(&ts->mu);
    ts->stopping = true;
    pthread_cond_broadcast(&ts->cv);
    pthread_mutex_unlock(&ts->mu);
    pthread_join(ts->thread, NULL);
    timer_list *l = ts->lists;
    while (l) {
        timer_list *n = l->next;
        free(l);
        l = n;
    }
    pthread_cond_destroy(&ts->cv);
    pthread_mutex_destroy(&ts->mu);
    free(ts);
}
