/* flowload: load generator for bench/flow_states.sh (compiled by the script with cc … -lcurl).
 *
 * One thread, libcurl multi driven by epoll through curl_multi_socket_action, so only the
 * sockets that have something to do cost anything (curl_multi_perform walks every transfer on
 * each wake-up, which at 1,000 transfers would make the generator the bottleneck on 2 cores).
 * A closed loop: CONC slots, each running one unit after another on its own easy handle (so it
 * keeps its keep-alive connection) until UNITS units have been started.
 *
 *   flowload flow   …  a unit is one Flow state: POST /api/run/1/state (runs to page 1),
 *                      FORWARD page 1 with an outcome and a Name input (the engine calls the
 *                      message action and stops on page 2), FORWARD page 2 (DONE). 3 requests.
 *   flowload park   …  a unit is one POST /api/run/1/state: the state stays parked on page 1.
 *   flowload direct …  a unit is 3 POSTs of a ServiceRequest to the message action itself
 *                      (the reference: same client, same concurrency, same request count).
 *
 * Every answer is checked (status 200; for the run API the element, invokeType and, on page 2,
 * the greeting the message action made). Prints one line:
 *   BENCH mode=… units=… completed=… requests=… errors=… seconds=… rps=… p50_us=… p90_us=…
 *         p99_us=… max_us=… step1_p50_us=… step1_p99_us=… (… per request kind) cpu_ms=…
 * and the first errors on stderr. --ids FILE writes the state ids (one a line).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

enum { M_FLOW, M_PARK, M_DIRECT };

static struct {
    int mode;
    const char *base;    /* http://127.0.0.1:PORT */
    const char *tenant;  /* ManyWhoTenant */
    const char *flow;    /* flow id */
    const char *o1, *o2; /* outcome ids: page 1 → message, page 2 → done */
    const char *comp;    /* page 1's Name component */
    const char *page1, *page2, *done; /* map element ids */
    const char *action;  /* direct: path of the message action */
    const char *auth;    /* direct: "user:token" */
    const char *ids;     /* file for the state ids */
    long units, conc;
    long timeout_ms;
} cfg = {.units = 1000, .conc = 1000, .timeout_ms = 60000};

typedef struct slot {
    CURL *h;
    long unit;          /* the unit this slot runs (-1: idle) */
    int step;           /* 0, 1, 2 */
    char state_id[40], token[40];
    char body[2048];
    size_t body_len;
    char *resp;
    size_t resp_len, resp_cap;
    double t0;
} slot;

static CURLM *multi;
static int ep;
static long timeout_next = -1;
static long started, completed, errors, nreq;
static uint32_t *lat[3];   /* per step kind, µs */
static long nlat[3];
static FILE *ids_out;
static struct curl_slist *hdrs;
static char url_state[512], url_action[512];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(slot *s, const char *fmt, ...)
{
    errors++;
    if (errors <= 10) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "flowload: unit %ld step %d: ", s->unit, s->step);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
}

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
    slot *s = arg;
    size_t len = sz * n;
    if (s->resp_len + len + 1 > s->resp_cap) {
        s->resp_cap = (s->resp_len + len + 1) * 2;
        s->resp = realloc(s->resp, s->resp_cap);
        if (!s->resp) {
            perror("realloc");
            exit(1);
        }
    }
    memcpy(s->resp + s->resp_len, p, len);
    s->resp_len += len;
    s->resp[s->resp_len] = 0;
    return len;
}

/* Copies the string value of "key" (first occurrence) into out; false when absent. */
static bool str_field(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p)
        return false;
    p += strlen(pat);
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= cap)
        return false;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = 0;
    return true;
}

static bool field_is(const char *json, const char *key, const char *want)
{
    char v[128];
    return str_field(json, key, v, sizeof v) && strcmp(v, want) == 0;
}

/* Prepares and adds the slot's next request. */
static void send_next(slot *s)
{
    s->resp_len = 0;
    int n = 0;
    const char *url = url_state;
    if (cfg.mode == M_DIRECT) {
        url = url_action;
        n = snprintf(s->body, sizeof s->body,
                     "{\"stateId\":\"00000000-0000-4000-8000-%012ld\",\"tenantId\":\"%s\",\"culture\":null,"
                     "\"configurationValues\":[],\"token\":\"00000000-0000-4000-9000-%012ld\",\"callbackUri\":\"%s/api/run/1/"
                     "response\",\"inputs\":[{\"developerName\":\"Name\",\"contentType\":\"ContentString\",\"contentValue\":"
                     "\"user %ld\",\"objectData\":null}]}",
                     s->unit, cfg.tenant, s->unit * 3 + s->step, cfg.base, s->unit);
    } else if (s->step == 0) {
        n = snprintf(s->body, sizeof s->body, "{\"id\":\"%s\",\"versionId\":null,\"inputs\":null}", cfg.flow);
    } else {
        static char u[600];
        snprintf(u, sizeof u, "%s/%s", url_state, s->state_id);
        url = u;
        char page[300] = "null";
        if (s->step == 1)
            snprintf(page, sizeof page,
                     "{\"pageComponentInputResponses\":[{\"pageComponentId\":\"%s\",\"contentValue\":\"user %ld\","
                     "\"objectData\":null}]}",
                     cfg.comp, s->unit);
        n = snprintf(s->body, sizeof s->body,
                     "{\"invokeType\":\"FORWARD\",\"stateId\":\"%s\",\"stateToken\":\"%s\",\"currentMapElementId\":\"%s\","
                     "\"annotations\":null,\"geoLocation\":null,\"mode\":\"\",\"selectedMapElementId\":null,"
                     "\"navigationElementId\":null,\"mapElementInvokeRequest\":{\"selectedOutcomeId\":\"%s\","
                     "\"pageRequest\":%s}}",
                     s->state_id, s->token, s->step == 1 ? cfg.page1 : cfg.page2, s->step == 1 ? cfg.o1 : cfg.o2, page);
    }
    s->body_len = (size_t)n;
    curl_easy_setopt(s->h, CURLOPT_URL, url);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)s->body_len);
    s->t0 = now_s();
    nreq++;
    curl_multi_add_handle(multi, s->h);
}

/* Starts the next unit on the slot, or leaves it idle when all are started. */
static void next_unit(slot *s)
{
    if (started >= cfg.units) {
        s->unit = -1;
        return;
    }
    s->unit = started++;
    s->step = 0;
    send_next(s);
}

static void finish(slot *s, CURLcode cc)
{
    double t1 = now_s();
    int kind = s->step;
    if (lat[kind] && nlat[kind] < cfg.units)
        lat[kind][nlat[kind]++] = (uint32_t)((t1 - s->t0) * 1e6);
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    const char *r = s->resp ? s->resp : "";
    if (cc != CURLE_OK) {
        fail(s, "transport error: %s", curl_easy_strerror(cc));
        next_unit(s);
        return;
    }
    if (status != 200) {
        fail(s, "HTTP %ld: %.300s", status, r);
        next_unit(s);
        return;
    }
    if (cfg.mode == M_DIRECT) {
        if (!strstr(r, "Hello, user ") || !field_is(r, "invokeType", "FORWARD")) {
            fail(s, "unexpected answer: %.300s", r);
            next_unit(s);
            return;
        }
        if (++s->step == 3) {
            completed++;
            next_unit(s);
        } else
            send_next(s);
        return;
    }
    const char *want_el = s->step == 0 ? cfg.page1 : s->step == 1 ? cfg.page2 : cfg.done;
    const char *want_it = s->step == 2 ? "DONE" : "FORWARD";
    if (!field_is(r, "currentMapElementId", want_el) || !field_is(r, "invokeType", want_it) ||
        !str_field(r, "stateToken", s->token, sizeof s->token) ||
        (s->step == 0 && !str_field(r, "stateId", s->state_id, sizeof s->state_id))) {
        fail(s, "unexpected answer (want element %s, %s): %.400s", want_el, want_it, r);
        next_unit(s);
        return;
    }
    if (s->step == 1) {
        char want[64];
        snprintf(want, sizeof want, "\"Hello, user %ld!\"", s->unit);
        if (!strstr(r, want)) {
            fail(s, "page 2 does not show %s: %.400s", want, r);
            next_unit(s);
            return;
        }
    }
    if (s->step == 0 && ids_out)
        fprintf(ids_out, "%s\n", s->state_id);
    if (cfg.mode == M_PARK || s->step == 2) {
        completed++;
        next_unit(s);
        return;
    }
    s->step++;
    send_next(s);
}

/* ---- libcurl ↔ epoll ---- */

static int on_socket(CURL *e, curl_socket_t fd, int what, void *uarg, void *sarg)
{
    (void)e, (void)uarg;
    struct epoll_event ev = {.data.fd = fd};
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (!sarg) {
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        curl_multi_assign(multi, fd, (void *)1);
    } else if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) {
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    return 0;
}

static int on_timer(CURLM *m, long ms, void *arg)
{
    (void)m, (void)arg;
    timeout_next = ms;
    return 0;
}

static void drain(void)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *h = msg->easy_handle;
        CURLcode cc = msg->data.result;
        slot *s;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&s);
        curl_multi_remove_handle(multi, h);
        finish(s, cc);
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pct(uint32_t *v, long n, double p)
{
    if (n == 0)
        return 0;
    long i = (long)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static void usage(void)
{
    fprintf(stderr,
            "usage: flowload flow|park|direct --base URL --tenant ID [--flow ID --o1 ID --o2 ID --comp ID --page1 ID "
            "--page2 ID --done ID] [--action PATH --auth USER:TOKEN] [--units N] [--conc N] [--ids FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    cfg.mode = strcmp(argv[1], "flow") == 0 ? M_FLOW : strcmp(argv[1], "park") == 0 ? M_PARK
                                                     : strcmp(argv[1], "direct") == 0 ? M_DIRECT
                                                                                        : -1;
    if (cfg.mode < 0)
        usage();
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--base")) cfg.base = v;
        else if (!strcmp(k, "--tenant")) cfg.tenant = v;
        else if (!strcmp(k, "--flow")) cfg.flow = v;
        else if (!strcmp(k, "--o1")) cfg.o1 = v;
        else if (!strcmp(k, "--o2")) cfg.o2 = v;
        else if (!strcmp(k, "--comp")) cfg.comp = v;
        else if (!strcmp(k, "--page1")) cfg.page1 = v;
        else if (!strcmp(k, "--page2")) cfg.page2 = v;
        else if (!strcmp(k, "--done")) cfg.done = v;
        else if (!strcmp(k, "--action")) cfg.action = v;
        else if (!strcmp(k, "--auth")) cfg.auth = v;
        else if (!strcmp(k, "--ids")) cfg.ids = v;
        else if (!strcmp(k, "--units")) cfg.units = atol(v);
        else if (!strcmp(k, "--conc")) cfg.conc = atol(v);
        else usage();
    }
    if (!cfg.base || !cfg.tenant || cfg.units < 1 || cfg.conc < 1)
        usage();
    if (cfg.mode == M_DIRECT ? !cfg.action || !cfg.auth
                             : !cfg.flow || !cfg.page1 || (cfg.mode == M_FLOW && (!cfg.o1 || !cfg.o2 || !cfg.comp ||
                                                                                   !cfg.page2 || !cfg.done)))
        usage();
    if (cfg.conc > cfg.units)
        cfg.conc = cfg.units;
    snprintf(url_state, sizeof url_state, "%s/api/run/1/state", cfg.base);
    if (cfg.action)
        snprintf(url_action, sizeof url_action, "%s%s", cfg.base, cfg.action);
    if (cfg.ids && !(ids_out = fopen(cfg.ids, "w"))) {
        perror(cfg.ids);
        return 1;
    }
    int kinds = cfg.mode == M_PARK ? 1 : 3;
    for (int k = 0; k < kinds; k++)
        lat[k] = malloc(sizeof(uint32_t) * (size_t)cfg.units);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    ep = epoll_create1(0);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, cfg.conc);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, cfg.conc);
    char th[200];
    snprintf(th, sizeof th, "ManyWhoTenant: %s", cfg.tenant);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (cfg.mode != M_DIRECT)
        hdrs = curl_slist_append(hdrs, th);
    slot *slots = calloc((size_t)cfg.conc, sizeof *slots);
    for (long i = 0; i < cfg.conc; i++) {
        slot *s = &slots[i];
        s->h = curl_easy_init();
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, cfg.timeout_ms);
        curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
        if (cfg.mode == M_DIRECT) {
            curl_easy_setopt(s->h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
            curl_easy_setopt(s->h, CURLOPT_USERPWD, cfg.auth);
        }
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    for (long i = 0; i < cfg.conc; i++)
        next_unit(&slots[i]);
    int running = 0;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain();
    struct epoll_event evs[256];
    while (completed + errors < cfg.units) {
        int n = epoll_wait(ep, evs, 256, timeout_next < 0 ? 1000 : (int)timeout_next);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        if (n <= 0) {
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        } else {
            for (int i = 0; i < n; i++) {
                int mask = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                           (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                           (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
                curl_multi_socket_action(multi, evs[i].data.fd, mask, &running);
            }
        }
        drain();
    }
    double secs = now_s() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e3 +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e3 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e3 +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e3;
    if (ids_out)
        fclose(ids_out);

    long nall = 0;
    for (int k = 0; k < kinds; k++)
        nall += nlat[k];
    uint32_t *all = malloc(sizeof(uint32_t) * (size_t)(nall ? nall : 1));
    long off = 0;
    for (int k = 0; k < kinds; k++) {
        memcpy(all + off, lat[k], sizeof(uint32_t) * (size_t)nlat[k]);
        off += nlat[k];
        qsort(lat[k], (size_t)nlat[k], sizeof(uint32_t), cmp_u32);
    }
    qsort(all, (size_t)nall, sizeof(uint32_t), cmp_u32);
    long okreq = nreq - errors;
    printf("BENCH mode=%s units=%ld completed=%ld requests=%ld ok_requests=%ld errors=%ld seconds=%.3f rps=%.0f "
           "units_per_s=%.0f p50_us=%u p90_us=%u p99_us=%u max_us=%u",
           argv[1], cfg.units, completed, nreq, okreq, errors, secs, okreq / secs, completed / secs,
           pct(all, nall, 0.50), pct(all, nall, 0.90), pct(all, nall, 0.99), nall ? all[nall - 1] : 0);
    for (int k = 0; k < kinds; k++)
        printf(" step%d_p50_us=%u step%d_p99_us=%u", k + 1, pct(lat[k], nlat[k], 0.50), k + 1,
               pct(lat[k], nlat[k], 0.99));
    printf(" cpu_ms=%.0f\n", cpu);
    for (long i = 0; i < cfg.conc; i++)
        curl_easy_cleanup(slots[i].h);
    curl_multi_cleanup(multi);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
    return errors ? 3 : 0;
}
