/* sluice: the command-line front door — one binary with subcommands.
 *
 *   sluice serve   Atom and Flow engine in one process
 *   sluice atom    the Atom alone
 *   sluice flow    the Flow engine alone (sluice flow import FILE loads a snapshot)
 *   sluice user add NAME
 *   sluice deploy DIR
 *   sluice demo
 *
 * main wires the HTTP server to the runtimes: /healthz and /metrics here, /fs/ and /api/atom/
 * to the atom, /api/run/ to the Flow engine. The two never call each other in-process: the
 * engine reaches Flow Services over HTTP, as the real systems do. Everything else answers 404
 * problem JSON.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atom/atom.h"
#include "core/http_server.h"
#include "core/http_static.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/store.h"
#include "flow/cli.h"
#include "flow/demo.h"
#include "flow/install.h"
#include "flow/macro.h"
#include "flow/run.h"

#define SLUICE_VERSION "0.1.0"

typedef struct options {
    const char *listen;
    const char *data;
    const char *deploy;
    const char *examples;
    const char *web;
    size_t max_request_bytes;
    unsigned workers;
    unsigned http_threads;
    int64_t callback_backoff_ms;
    int64_t flow_done_ttl_s;
    bool help;
} options;

typedef struct server_ctx {
    const char *web;    /* the web folder (player, console), NULL when none was found */
    atom *atom;         /* NULL when only the Flow engine runs */
    flow_engine *flow;  /* NULL when only the Atom runs */
    int64_t started_ms;
} server_ctx;

static const char common_help[] =
    "Options:\n"
    "  --listen ADDR:PORT        address to serve on (default 127.0.0.1:8080; port 0 picks a free one)\n"
    "  --data DIR                data directory: databases and files (default ./sluice-data)\n"
    "  --deploy DIR              deploy a components folder at start\n"
    "  --max-request-bytes N     largest /fs/ request body accepted, else 413 (default 1048576)\n"
    "  --workers N               process execution threads (default 2 x cores)\n"
    "  --http-threads N          HTTP threads (default: cores)\n"
    "  --log-level LEVEL         debug, info, warn, error or off (default info)\n"
    "  --callback-backoff-ms N   first retry delay of WAIT callbacks, doubled per attempt (default 500)\n"
    "  --flow-done-ttl SECONDS   Flow states that ended are deleted after this long (default 86400)\n"
    "  --web DIR                 the web folder: player and console (default: ./web, else the source tree's)\n"
    "  -h, --help                this help\n";

static void usage_main(FILE *f)
{
    fprintf(f,
            "sluice %s - a self-hosted Atom and Flow engine\n\n"
            "Usage: sluice COMMAND [options]\n\n"
            "Commands:\n"
            "  serve            run the Atom and the Flow engine in one process\n"
            "  atom             run the Atom only\n"
            "  user add NAME    create (or replace) a shared web server user; prints its token\n"
            "  deploy DIR       validate a components folder and deploy it into the data directory\n"
            "  demo             deploy the example components, create the demo user and serve\n"
            "  flow             run the Flow engine only (run API on /api/run/1)\n"
            "  flow import FILE store a Flow snapshot or package for a tenant and activate it; prints tenant id and flow id\n"
            "  flow export ID   print a flow's package (a snapshot without passwords)\n"
            "  tenant add NAME  create a Flow tenant; prints its id\n"
            "  service install URL --tenant NAME  install a Flow Service into a tenant; prints its id\n"
            "  key add --tenant NAME  issue a builder API key (x-boomi-flow-api-key); prints it\n"
            "  version          print the version\n\n"
            "Run 'sluice COMMAND --help' for the options of a command.\n",
            SLUICE_VERSION);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1; /* strtoull would accept "-1" and " 1" */
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || v == 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Parses options from argv[start..]; positional arguments are collected into pos. */
static int parse_options(int argc, char **argv, int start, options *o, const char **pos, int max_pos, int *npos)
{
    *npos = 0;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        char name[64];
        if (str_starts(a, "--") && eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = 0;
            val = eq + 1;
            a = name;
        }
#define NEEDVAL()                                                                                                      \
    do {                                                                                                               \
        if (!val) {                                                                                                    \
            if (i + 1 >= argc) {                                                                                       \
                fprintf(stderr, "sluice: %s needs a value\n", a);                                                     \
                return -1;                                                                                             \
            }                                                                                                          \
            val = argv[++i];                                                                                           \
        }                                                                                                              \
    } while (0)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = true;
        } else if (strcmp(a, "--listen") == 0) {
            NEEDVAL();
            o->listen = val;
        } else if (strcmp(a, "--data") == 0) {
            NEEDVAL();
            o->data = val;
        } else if (strcmp(a, "--deploy") == 0) {
            NEEDVAL();
            o->deploy = val;
        } else if (strcmp(a, "--examples") == 0) {
            NEEDVAL();
            o->examples = val;
        } else if (strcmp(a, "--web") == 0) {
            NEEDVAL();
            o->web = val;
        } else if (strcmp(a, "--max-request-bytes") == 0) {
            NEEDVAL();
            if (parse_size(val, &o->max_request_bytes)) {
                fprintf(stderr, "sluice: --max-request-bytes needs a positive number, got \"%s\"\n", val);
                return -1;
            }
        } else if (strcmp(a, "--workers") == 0 || strcmp(a, "--http-threads") == 0) {
            NEEDVAL();
            size_t n;
            if (parse_size(val, &n) || n > 1024) {
                fprintf(stderr, "sluice: %s needs a number from 1 to 1024, got \"%s\"\n", a, val);
                return -1;
            }
            if (strcmp(a, "--workers") == 0)
                o->workers = (unsigned)n;
            else
                o->http_threads = (unsigned)n;
        } else if (strcmp(a, "--callback-backoff-ms") == 0) {
            NEEDVAL();
            size_t n;
            if (parse_size(val, &n)) {
                fprintf(stderr, "sluice: --callback-backoff-ms needs a positive number\n");
                return -1;
            }
            o->callback_backoff_ms = (int64_t)n;
        } else if (strcmp(a, "--flow-done-ttl") == 0) {
            NEEDVAL();
            size_t n;
            if (parse_size(val, &n)) {
                fprintf(stderr, "sluice: --flow-done-ttl needs a positive number of seconds\n");
                return -1;
            }
            o->flow_done_ttl_s = (int64_t)n;
        } else if (strcmp(a, "--log-level") == 0) {
            NEEDVAL();
            int l = log_level_parse(val);
            if (l < 0) {
                fprintf(stderr, "sluice: --log-level must be debug, info, warn, error or off\n");
                return -1;
            }
            log_set_level(l);
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "sluice: unknown option %s (see --help)\n", a);
            return -1;
        } else {
            if (*npos == max_pos) {
                fprintf(stderr, "sluice: unexpected argument \"%s\" (see --help)\n", a);
                return -1;
            }
            pos[(*npos)++] = a;
        }
#undef NEEDVAL
    }
    if (!o->data)
        o->data = "./sluice-data";
    if (!o->listen)
        o->listen = "127.0.0.1:8080";
    return 0;
}

static void print_problems(const sl_problems *p)
{
    buf b;
    buf_init(&b, 1u << 22);
    deploy_format_problems(p, &b);
    fputs(b.data ? b.data : "", stderr);
    buf_free(&b);
}

static atom_config atom_cfg(const options *o, bool server)
{
    atom_config c = {.data_dir = o->data, .max_request_bytes = o->max_request_bytes, .workers = o->workers,
                     .callback_backoff_ms = o->callback_backoff_ms, .watch = server};
    return c;
}

/* Opens the atom on o->data (server: with workers, timers and the store watcher); prints why
 * not and returns NULL when it cannot. */
static atom *open_atom(const options *o, bool server)
{
    atom_config cfg = atom_cfg(o, server);
    atom *a = NULL;
    sl_error err = {0};
    if (atom_open(&cfg, server, &a, &err) != 0) {
        fprintf(stderr, "sluice: cannot open the data directory %s: %s\n", o->data, err.msg);
        return NULL;
    }
    return a;
}

static int deploy_into(atom *a, const char *dir)
{
    sl_problems problems;
    problems_init(&problems);
    int64_t v = 0;
    bool changed = false;
    int rc = atom_deploy_dir(a, dir, &v, &changed, &problems);
    if (rc) {
        fprintf(stderr, "sluice: %s was not deployed (%zu problem%s); the deployed version is unchanged:\n", dir,
                problems.n + problems.dropped, problems.n + problems.dropped == 1 ? "" : "s");
        print_problems(&problems);
    } else {
        char vs[24];
        snprintf(vs, sizeof vs, "%lld", (long long)v);
        log_info("atom", changed ? "deployed" : "deployment unchanged", "source", dir, "#version", vs, NULL);
    }
    problems_free(&problems);
    return rc;
}

/* ---- the server ---- */

static void not_found(http_request *req)
{
    jv *p = jv_new_object();
    jv_set_str(p, "kind", "api");
    jv_set_str(p, "uri", req->raw_path);
    jv_set_int(p, "statusCode", 404);
    char *msg = xasprintf("no route for %s %s", req->method, req->raw_path);
    jv_set_str(p, "message", msg);
    free(msg);
    http_add_header(req, "X-ManyWho-Service-Problem-Kind", "api");
    http_respond_json(req, 404, p);
    jv_free(p);
}

/* The browser side: /play/<tenant>/<flow> (the player page), /admin (the console), /web/...
 * (their files), / (to the console). */
static bool is_web(const char *path)
{
    return strcmp(path, "/") == 0 || str_starts(path, "/play/") || strcmp(path, "/admin") == 0 ||
           str_starts(path, "/admin/") || str_starts(path, "/web/") || strcmp(path, "/favicon.ico") == 0;
}

static void serve_web(server_ctx *s, http_request *req)
{
    if (!s->web) {
        not_found(req);
        return;
    }
    if (strcmp(req->path, "/") == 0) {
        http_add_header(req, "Location", "/admin");
        http_respond(req, 302, "text/plain", "", 0);
    } else if (str_starts(req->path, "/play/")) {
        http_static_serve(req, s->web, "player/index.html", 0);
    } else if (strcmp(req->path, "/admin") == 0 || str_starts(req->path, "/admin/")) {
        http_static_serve(req, s->web, "admin/index.html", 0);
    } else if (strcmp(req->path, "/favicon.ico") == 0) {
        http_static_serve(req, s->web, "favicon.svg", 3600);
    } else {
        http_static_serve(req, s->web, req->path + strlen("/web/"), 0);
    }
}

static void on_headers(void *ctx, http_request *req)
{
    server_ctx *s = ctx;
    if (s->atom && atom_owns(req->path)) {
        atom_on_headers(s->atom, req);
        return;
    }
    if (s->flow && flow_owns(req->path)) {
        flow_on_headers(s->flow, req);
        return;
    }
    /* Everything else is answered in on_request: answering on the first libmicrohttpd call
     * would close the connection instead of keeping it alive. */
    req->max_body = 64 * 1024; /* read (and ignore) a small body so the answer is 404, not 413 */
    req->route = strcmp(req->path, "/healthz") == 0   ? "healthz"
                 : strcmp(req->path, "/metrics") == 0 ? "metrics"
                 : is_web(req->path)                  ? "web"
                                                      : "other";
}

static void on_request(void *ctx, http_request *req)
{
    server_ctx *s = ctx;
    if (s->atom && atom_owns(req->path)) {
        atom_on_request(s->atom, req);
    } else if (s->flow && flow_owns(req->path)) {
        flow_on_request(s->flow, req);
    } else if (is_web(req->path) && (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)) {
        serve_web(s, req);
    } else if (strcmp(req->path, "/healthz") == 0) {
        char *body = xasprintf("{\"status\":\"ok\",\"version\":\"%s\",\"deployment\":%lld,\"uptimeMs\":%lld,"
                               "\"atom\":%s,\"flow\":%s}",
                               SLUICE_VERSION, s->atom ? (long long)atom_version(s->atom) : 0LL,
                               (long long)(now_ms() - s->started_ms), s->atom ? "true" : "false",
                               s->flow ? "true" : "false");
        http_respond_take(req, 200, "application/json", body, strlen(body));
    } else if (strcmp(req->path, "/metrics") == 0) {
        buf b;
        buf_init(&b, 1u << 22);
        metrics_render(&b);
        size_t len = b.len;
        http_respond_take(req, 200, "text/plain; version=0.0.4", buf_take(&b), len);
    } else {
        not_found(req);
    }
}

/* Servers take SIGINT/SIGTERM with sigwait in the main thread. Block them before any thread
 * starts (threads inherit the mask), so no other thread can be killed by them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The web folder: --web, else ./web, else the source tree's (when run from a build). */
static const char *find_web(const options *o)
{
    if (o->web)
        return o->web;
    const char *candidates[] = {"web/style.css", SLUICE_SOURCE_DIR "/web/style.css", NULL};
    const char *roots[] = {"web", SLUICE_SOURCE_DIR "/web", NULL};
    for (size_t i = 0; candidates[i]; i++) {
        struct stat st;
        if (stat(candidates[i], &st) == 0 && S_ISREG(st.st_mode))
            return roots[i];
    }
    return NULL;
}

/* The demo flow package, found next to the example components (examples/flows/). */
static char demo_package[4200];

/* Sets up the Flow side of the demo through the running server (service installed by URL, the
 * flow package imported) and prints how to reach everything. */
static void print_demo(flow_engine *f, const char *base, const char *token)
{
    flow_demo d = {0};
    sl_error err = {0};
    char *svc_url = xasprintf("%s/fs/upload", base);
    bool flow_ok = f && demo_package[0] && flow_demo_setup(f, "demo", svc_url, "demo", token, demo_package, &d, &err) == 0;
    free(svc_url);
    if (f && !flow_ok)
        fprintf(stderr, "sluice: the demo flow was not set up: %s%s%s\n", err.where[0] ? err.where : "",
                err.where[0] ? ": " : "", demo_package[0] ? err.msg : "examples/flows/customer-desk.json not found");
    if (flow_ok)
        printf("player: %s/play/%s/%s\n", base, d.tenant_id, d.flow_id);
    printf("atom: %s/fs/upload\n"
           "console: %s/admin\n"
           "user: demo\n"
           "token: %s\n"
           "try: curl -s -u demo:%s -X POST %s/fs/upload/actions/Greet -H 'Content-Type: application/json' "
           "-d '{\"inputs\":[{\"developerName\":\"Name\",\"contentType\":\"ContentString\",\"contentValue\":\"Ada\"}]}'\n",
           base, base, token, token, base);
    if (flow_ok)
        printf("tenant: %s\n"
               "flow: %s (%s)\n"
               "key: %s\n"
               "run: curl -s -X POST %s/api/run/1/state -H 'ManyWhoTenant: %s' -H 'Content-Type: application/json' "
               "-d '{\"id\":\"%s\"}'\n",
               d.tenant_id, d.flow_id, d.flow_name, d.api_key, base, d.tenant_id, d.flow_id);
    fflush(stdout);
    flow_demo_free(&d);
}

/* Serves until SIGINT/SIGTERM (block_signals must have run first). demo_token: print the demo
 * lines, with the address actually bound, once listening. */
static int serve(const options *o, atom *a, flow_engine *f, const char *banner, sigset_t *set,
                 const char *demo_token)
{
    server_ctx ctx = {.atom = a, .flow = f, .started_ms = now_ms(), .web = find_web(o)};
    http_server_config hc = {.listen = o->listen, .threads = o->http_threads, .on_headers = on_headers,
                             .on_request = on_request, .ctx = &ctx};
    http_server *srv = NULL;
    sl_error err = {0};
    if (http_server_start(&hc, &srv, &err) != 0) {
        fprintf(stderr, "sluice: %s\n", err.msg);
        return 1;
    }
    char port[16], addr[128];
    snprintf(port, sizeof port, "%u", http_server_port(srv));
    snprintf(addr, sizeof addr, "%s", o->listen);
    char *colon = strrchr(addr, ':');
    if (colon)
        *colon = 0;
    char *url = xasprintf("http://%s:%s", addr, port);
    if (f)
        flow_engine_set_base_url(f, url);
    if (demo_token)
        print_demo(f, url, demo_token);
    log_info("sluice", "listening", "url", url, "#port", port, "data", o->data, "mode", banner, NULL);
    if (log_get_level() > LOG_INFO)
        fprintf(stderr, "sluice: listening on %s\n", url);
    free(url);
    int sig = 0;
    sigwait(set, &sig);
    log_info("sluice", "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    if (f)
        flow_engine_shutdown(f, 10000);
    if (a)
        atom_shutdown(a, 10000);
    http_server_stop(srv);
    return 0;
}

static const char *const macro_argv[] = {"/proc/self/exe", "__macro-worker", NULL};

/* Opens the Flow engine on o->data; prints why not and returns NULL when it cannot. */
static flow_engine *open_flow(const options *o)
{
    flow_engine_config fc = {.data_dir = o->data, .macro_argv = macro_argv,
                             .done_ttl_ms = o->flow_done_ttl_s * 1000};
    flow_engine *f = NULL;
    sl_error err = {0};
    if (flow_engine_open(&fc, &f, &err) != 0) {
        fprintf(stderr, "sluice: cannot start the Flow engine on %s: %s\n", o->data, err.msg);
        return NULL;
    }
    return f;
}

static int cmd_serve(int argc, char **argv, const char *mode)
{
    options o = {0};
    const char *pos[1];
    int npos;
    if (parse_options(argc, argv, 2, &o, pos, 0, &npos))
        return 2;
    bool want_atom = strcmp(mode, "flow") != 0, want_flow = strcmp(mode, "atom") != 0;
    if (o.help) {
        printf("Usage: sluice %s [options]\n\n%s%s", mode,
               strcmp(mode, "serve") == 0
                   ? "Runs the Atom (Flow Services on /fs/, management on /api/atom/v1/) and the Flow engine\n"
                     "(run API on /api/run/1) in one process. GET /healthz answers once ready; GET /metrics\n"
                     "is in Prometheus format.\n\n"
               : strcmp(mode, "flow") == 0
                   ? "Runs the Flow engine only: the run API on /api/run/1 over the flows stored in the data\n"
                     "directory (load them with 'sluice flow import FILE'). Services are reached over HTTP.\n\n"
                   : "Runs the Atom only: Flow Services on /fs/<name>, management on /api/atom/v1/.\n\n",
               common_help);
        return 0;
    }
    sigset_t set;
    block_signals(&set);
    atom *a = NULL;
    if (want_atom) {
        a = open_atom(&o, true);
        if (!a)
            return 1;
        if (o.deploy && deploy_into(a, o.deploy) != 0) {
            atom_close(a);
            return 1;
        }
    }
    flow_engine *f = NULL;
    if (want_flow && !(f = open_flow(&o))) {
        atom_close(a);
        return 1;
    }
    int rc = serve(&o, a, f, mode, &set, NULL);
    flow_engine_close(f);
    atom_close(a);
    return rc;
}

static int cmd_user(int argc, char **argv)
{
    options o = {0};
    log_set_level(LOG_WARN); /* one-shot command: only problems on stderr (--log-level overrides) */
    const char *pos[2];
    int npos;
    if (parse_options(argc, argv, 2, &o, pos, 2, &npos))
        return 2;
    if (o.help || npos != 2 || strcmp(pos[0], "add") != 0) {
        printf("Usage: sluice user add NAME [--data DIR]\n\n"
               "Creates a shared web server user (or gives an existing one a new token) and prints the\n"
               "token, alone on stdout. It is shown only this once: the data directory keeps only a hash.\n"
               "Flow authenticates to /fs/ with HTTP Basic NAME:TOKEN.\n");
        return o.help ? 0 : 2;
    }
    atom *a = open_atom(&o, false);
    if (!a)
        return 1;
    sl_error err = {0};
    char *token = NULL;
    int rc = atom_user_add(a, pos[1], &token, &err);
    atom_close(a);
    if (rc) {
        fprintf(stderr, "sluice: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", token);
    free(token);
    return 0;
}

static int cmd_deploy(int argc, char **argv)
{
    options o = {0};
    log_set_level(LOG_WARN); /* one-shot command: only problems on stderr (--log-level overrides) */
    const char *pos[1];
    int npos;
    if (parse_options(argc, argv, 2, &o, pos, 1, &npos))
        return 2;
    if (o.help || npos != 1) {
        printf("Usage: sluice deploy DIR [--data DIR]\n\n"
               "Validates every component in DIR (profiles, processes, Flow Services; see docs/components.md)\n"
               "and deploys them as a new version. Every problem is listed as FILE: POINTER: MESSAGE and\n"
               "nothing is deployed when there is any. A running server on the same data directory picks\n"
               "the new version up within a second. Prints the deployed version.\n");
        return o.help ? 0 : 2;
    }
    atom *a = open_atom(&o, false);
    if (!a)
        return 1;
    sl_problems problems;
    problems_init(&problems);
    int64_t v = 0;
    bool changed = false;
    int rc = atom_deploy_dir(a, pos[0], &v, &changed, &problems);
    if (rc) {
        fprintf(stderr, "sluice: %s was not deployed (%zu problem%s); the deployed version is unchanged:\n", pos[0],
                problems.n + problems.dropped, problems.n + problems.dropped == 1 ? "" : "s");
        print_problems(&problems);
    } else {
        printf("%lld\n", (long long)v);
        fprintf(stderr, "sluice: %s version %lld\n", changed ? "deployed" : "unchanged, still", (long long)v);
    }
    problems_free(&problems);
    atom_close(a);
    return rc ? 1 : 0;
}

static const char *find_examples(const options *o)
{
    static char path[4096];
    if (o->examples)
        return o->examples;
    const char *candidates[] = {"examples/upload", SLUICE_SOURCE_DIR "/examples/upload", NULL};
    for (size_t i = 0; candidates[i]; i++) {
        struct stat st;
        if (stat(candidates[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(path, sizeof path, "%s", candidates[i]);
            return path;
        }
    }
    return NULL;
}

/* The demo's customers table lives in <data>/customers.db; it is created from the examples'
 * seed/customers.sql the first time, and left alone after that (so edits made through the demo
 * survive restarts). */
static int seed_demo_db(const char *data, const char *examples)
{
    char *db = xasprintf("%s/customers.db", data);
    struct stat st;
    if (stat(db, &st) == 0) {
        free(db);
        return 0;
    }
    char *seed_path = xasprintf("%s/seed/customers.sql", examples);
    char *seed = NULL;
    size_t len = 0;
    sl_error err = {0};
    int rc = file_read(seed_path, 1u << 20, &seed, &len, &err);
    if (rc == SL_ENOTFOUND) {
        rc = 0; /* examples without a customers table */
    } else if (rc == 0) {
        const char *const migrations[] = {seed};
        store *s = NULL;
        rc = store_open(db, migrations, 1, &s, &err);
        store_close(s);
        if (rc)
            unlink(db);
    }
    if (rc)
        fprintf(stderr, "sluice: cannot create the demo database %s from %s: %s\n", db, seed_path, err.msg);
    free(seed);
    free(seed_path);
    free(db);
    return rc;
}

static int cmd_demo(int argc, char **argv)
{
    options o = {0};
    const char *pos[1];
    int npos;
    if (parse_options(argc, argv, 2, &o, pos, 0, &npos))
        return 2;
    if (o.help) {
        printf("Usage: sluice demo [options]\n\n"
               "Deploys the example components (examples/upload: the Flow Service at /fs/upload), gives the\n"
               "user 'demo' a fresh token, prints how to reach everything, and serves.\n"
               "  --examples DIR            the components folder to deploy (default examples/upload)\n\n%s",
               common_help);
        return 0;
    }
    const char *dir = find_examples(&o);
    if (!dir) {
        fprintf(stderr, "sluice: cannot find the example components; pass --examples DIR\n");
        return 1;
    }
    if (snprintf(demo_package, sizeof demo_package, "%s/../flows/customer-desk.json", dir) >= (int)sizeof demo_package)
        demo_package[0] = 0;
    struct stat pst;
    if (stat(demo_package, &pst) != 0)
        demo_package[0] = 0;
    sigset_t set;
    block_signals(&set);
    atom *a = open_atom(&o, true);
    if (!a)
        return 1;
    sl_error err = {0};
    if (seed_demo_db(o.data, dir) != 0) {
        atom_close(a);
        return 1;
    }
    if (deploy_into(a, dir) != 0) {
        atom_close(a);
        return 1;
    }
    char *token = NULL;
    if (atom_user_add(a, "demo", &token, &err) != 0) {
        fprintf(stderr, "sluice: %s\n", err.msg);
        atom_close(a);
        return 1;
    }
    flow_engine *f = open_flow(&o);
    if (!f) {
        free(token);
        atom_close(a);
        return 1;
    }
    int rc = serve(&o, a, f, "demo", &set, token);
    free(token);
    flow_engine_close(f);
    atom_close(a);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage_main(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "__macro-worker") == 0) /* internal: a sandboxed macro process (flow/macro.h) */
        return macro_worker_main();
    if (strcmp(cmd, "serve") == 0 || strcmp(cmd, "atom") == 0)
        return cmd_serve(argc, argv, cmd);
    if (strcmp(cmd, "user") == 0)
        return cmd_user(argc, argv);
    if (strcmp(cmd, "deploy") == 0)
        return cmd_deploy(argc, argv);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc, argv);
    if (strcmp(cmd, "flow") == 0) {
        if (argc >= 3 && strcmp(argv[2], "import") == 0)
            return flow_cli_import(argc - 2, argv + 2); /* argv[0] becomes "import" */
        if (argc >= 3 && strcmp(argv[2], "export") == 0)
            return flow_cli_export(argc - 2, argv + 2); /* argv[0] becomes "export" */
        if (argc >= 3 && argv[2][0] != '-') {
            fprintf(stderr, "sluice: unknown flow command \"%s\"\nusage: sluice flow [options] | sluice flow import FILE "
                            "[--tenant NAME] [--data DIR] [--strict] | sluice flow export ID [--tenant NAME]\n", argv[2]);
            return 2;
        }
        return cmd_serve(argc, argv, "flow");
    }
    if (strcmp(cmd, "service") == 0) {
        if (argc >= 3 && strcmp(argv[2], "install") == 0)
            return install_cli(argc - 2, argv + 2);
        fprintf(stderr, "usage: sluice service install URL --tenant NAME [--user U --token T] [--name NAME] "
                        "[--config NAME=VALUE]... [--data DIR]\n");
        return argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) ? 0 : 2;
    }
    if (strcmp(cmd, "tenant") == 0 || strcmp(cmd, "key") == 0) {
        if (argc >= 3 && strcmp(argv[2], "add") == 0)
            return strcmp(cmd, "tenant") == 0 ? flow_cli_tenant_add(argc - 2, argv + 2) : flow_cli_key_add(argc - 2, argv + 2);
        fprintf(stderr, "usage: sluice tenant add NAME [--data DIR] | sluice key add --tenant NAME [--data DIR]\n");
        return argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) ? 0 : 2;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    fprintf(stderr, "sluice: unknown command \"%s\"\n\n", cmd);
    usage_main(stderr);
    return 2;
}
