/* workpool: a fixed set of worker threads running jobs from a bounded FIFO queue, and a timer
 * service for deadlines.
 *
 * Design: the HTTP threads never run slow work; they submit it here. The queue is bounded so an
 * overload is refused (the caller answers 503) instead of growing memory. Timers are kept in one
 * FIFO list per distinct duration: deadlines with the same duration are added in time order, so
 * each list is already sorted, adding and cancelling are O(1), and the timer thread only looks
 * at the head of each list. Timer callbacks run on the timer thread and must be quick.
 */
#ifndef SLUICE_WORKPOOL_H
#define SLUICE_WORKPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct workpool workpool;
typedef void (*work_fn)(void *arg);

/* Starts nthreads workers with a queue of at most max_queue waiting jobs. Never fails. */
workpool *workpool_start(unsigned nthreads, size_t max_queue);
/* Queues fn(arg). Returns 0, or SL_ETOOBIG when the queue is full (fn is not called). */
int workpool_submit(workpool *wp, work_fn fn, void *arg);
/* Jobs queued or running. */
size_t workpool_pending(workpool *wp);
/* Runs the queued jobs to completion, then stops and frees the pool. */
void workpool_stop(workpool *wp);

typedef struct timer_service timer_service;

/* A timer is owned by the caller (embed it in your own struct, libuv style); the service only
 * links it into a list. Fields are private. */
typedef struct timer_entry {
    struct timer_entry *_prev, *_next;
    struct timer_list *_list;
    int64_t _deadline_ms;
    work_fn _fn;
    void *_arg;
} timer_entry;

timer_service *timer_start(void);
/* Arms t to call fn(arg) on the timer thread after duration_ms (> 0), unless cancelled first. */
void timer_add(timer_service *ts, timer_entry *t, int64_t duration_ms, work_fn fn, void *arg);
/* Cancels an armed timer. Returns 1 if it was cancelled (fn will not run), 0 if it already fired
 * or is firing (fn runs or ran exactly once; the caller must not free t's owner before then). */
int timer_cancel(timer_service *ts, timer_entry *t);
void timer_stop(timer_service *ts);

#endif
