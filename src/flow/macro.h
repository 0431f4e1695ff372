/* macro: the Flow engine's sandbox for macros (the JavaScript in macroElements[].code that an
 * OPERATOR map element runs to read and set the flow's values).
 *
 * Design: macros run in ISOLATED WORKER PROCESSES, never in the engine's own process. Debian 12's
 * duktape (2.7) is built without an instruction-count interrupt, so a runaway macro cannot be
 * stopped from inside the engine; a separate process can simply be killed. A runner owns a small
 * pool of workers (the sluice binary started again with MACRO_WORKER_ARG, whose main() calls
 * macro_worker_main()). Each worker talks over one socket pair dup'ed onto its stdin and stdout
 * (a socket rather than two pipes so the engine can write with MSG_NOSIGNAL and never get
 * SIGPIPE). The child keeps stderr for diagnostics and no other descriptor; the engine's end is
 * close-on-exec; the child starts with default signal handling, an empty signal mask and no core
 * dumps.
 *
 * Protocol: each message is a frame of a 4-byte big-endian length and that many bytes of JSON.
 * A new worker first sends a "ready" frame. A request is
 *   {"memoryBytes":N, "maxOutput":N, "code":"...", "values":{...}}   (at most MACRO_MAX_REQUEST)
 * and the answer is either {"changed":{...}} or {"kind":"script"|"output"|"request", "error":"..."}.
 *
 * Limits, per macro:
 *   - time: the engine waits for the answer with poll() for at most time_ms after sending the
 *     request. When the time is up it SIGKILLs the worker, reaps it, starts a fresh one and
 *     fails the call with SL_ETIMEOUT. A worker that dies or answers garbage is replaced too
 *     (SL_EIO). Starting a worker is not charged to any macro: a new worker's "ready" frame is
 *     awaited (up to MACRO_START_MS) before its first request is sent.
 *   - memory: the worker gives duktape a counting allocator capped at memory_bytes; a macro
 *     that needs more fails with "out of memory" (SL_EINVAL). As a backstop the worker caps its
 *     address space (RLIMIT_AS, MACRO_WORKER_AS) unless built with a sanitizer, which needs a
 *     huge address space of its own.
 *   - output: the changed values, as JSON, may take at most max_output bytes (else SL_ETOOBIG).
 *
 * Inside a worker, every macro runs in a FRESH duktape heap, so nothing a macro does (globals,
 * patched built-ins) can reach the next one. The heap holds the standard ECMAScript built-ins
 * only: duktape's extras (Duktape, CBOR, Buffer, TextEncoder, TextDecoder, performance, print,
 * alert) are deleted. Nothing in the heap can reach files, sockets or the clock beyond Date.
 *
 * The macro API (Boomi Flow's macro functions). A reference is a value's developerName, written
 * plainly ("Name") or as "{![Name]}"; names are matched exactly. Every function throws an Error
 * naming the reference when no such value was passed in.
 *   value(ref), getValue(ref)   the value typed by its contentType: a number for ContentNumber, a
 *                               boolean for ContentBoolean, a Date for ContentDateTime and
 *                               ContentDate, for ContentObject and ContentList an array of plain
 *                               objects {externalId, internalId, developerName, typeElementId,
 *                               properties: {<property name>: <string, or null, or for a property
 *                               holding objects an array of such plain objects>}}, else a string.
 *                               A null (or non-string) contentValue reads as null, and so does
 *                               an empty one for numbers, booleans and dates.
 *   getStringValue(ref)         the contentValue as it is (string or null)
 *   getNumberValue(ref), getBooleanValue(ref), getDateTimeValue(ref)
 *                               the contentValue converted to that type whatever the contentType
 *                               (booleans: "true" in any case is true, any other text false)
 *   getArrayValue(ref)          the objects as above ([] when there are none)
 *   getObjectValue(ref)         the first of them, or null
 *   setStringValue(ref, v), setContentValue(ref, v), setPasswordValue(ref, v)   String(v)
 *   setNumberValue(ref, v)      Number(v) in JavaScript's number-to-string form ("42", "0.5",
 *                               "1e+21"); NaN and infinities are refused (RangeError)
 *   setBooleanValue(ref, v)     "true" or "false" (lowercase, as Flow's wire format); the strings
 *                               "true"/"false" in any case count as themselves, anything else
 *                               by JavaScript truthiness
 *   setDateTimeValue(ref, v)    a Date, a date string or ms since the epoch, stored as
 *                               yyyy-MM-ddTHH:mm:ss.SSSZ (UTC); invalid dates are refused
 *   setValue(ref, v)            by the value's contentType, as the setters above
 *   setArrayValue(ref, array), setObjectValue(ref, object)
 *                               plain objects (as the getters return them) back into objectData
 *                               MObjects: {externalId, internalId, developerName, typeElementId,
 *                               properties: [{developerName, contentValue (a string as the
 *                               setters above make it, or null), objectData (for a property given
 *                               an array or object, else null)}]}. A ContentObject holds at most
 *                               one object.
 *   console.log/info/warn/error/debug   accepted and ignored
 * Any setter given null or undefined stores null. Scalar setters refuse object and list values
 * and the object setters refuse scalar values (TypeError). Reading a value after setting it gives
 * the new value.
 */
#ifndef SLUICE_FLOW_MACRO_H
#define SLUICE_FLOW_MACRO_H

#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "core/util.h"

#define MACRO_WORKER_ARG "__macro-worker"     /* argv[1] that makes sluice a macro worker */
#define MACRO_DEFAULT_WORKERS 2
#define MACRO_MAX_WORKERS 64
#define MACRO_DEFAULT_TIME_MS 1000
#define MACRO_MAX_TIME_MS 600000
#define MACRO_DEFAULT_MEMORY ((size_t)16 << 20)
#define MACRO_MIN_MEMORY ((size_t)1 << 20)
#define MACRO_MAX_MEMORY ((size_t)64 << 20)
#define MACRO_DEFAULT_OUTPUT ((size_t)1 << 20)
#define MACRO_MAX_REQUEST ((size_t)8 << 20)   /* bytes of one request frame (code + values) */
#define MACRO_WORKER_AS ((size_t)256 << 20)   /* a worker's address-space cap (RLIMIT_AS) */
#define MACRO_START_MS 5000                    /* how long a new worker may take to be ready */
#define MACRO_MAX_DEPTH 16                     /* objects inside object properties, per macro */
#define MACRO_MAX_OBJECTS 100000               /* objects in one array a macro sets */

/* Per-macro limits; a zero member means its default. */
typedef struct macro_limits {
    int64_t time_ms;     /* wall-clock budget per macro (default 1000, at most 600000) */
    size_t memory_bytes; /* duktape heap cap (default 16 MiB, 1 MiB to 64 MiB) */
    size_t max_output;   /* bytes of the changed values as JSON (default 1 MiB, at most 8 MiB) */
} macro_limits;

typedef struct macro_runner macro_runner;

/* Starts `workers` worker processes (0 means MACRO_DEFAULT_WORKERS) by running worker_argv
 * (NULL-terminated; argv[0] is the path to execute, e.g. {"/proc/self/exe", MACRO_WORKER_ARG,
 * NULL}) and waits until each reports ready. lim may be NULL for all defaults. worker_argv and
 * lim are copied. On success *out is a runner to end with macro_runner_stop. Errors: SL_EINVAL for
 * bad arguments or limits; SL_EEXEC when a worker cannot be started or does not become ready
 * within MACRO_START_MS (e.g. the program does not dispatch MACRO_WORKER_ARG to
 * macro_worker_main); nothing is left running then. */
int macro_runner_start(const char *const *worker_argv, unsigned workers, const macro_limits *lim,
                       macro_runner **out, sl_error *err);

/* Runs the macro `code` (UTF-8 JavaScript) over `values` (borrowed; an object keyed by value
 * developerName whose members are {contentType, contentValue, objectData}; NULL means none).
 * Thread-safe: concurrent calls each take a free worker, waiting while all are busy. On success
 * *changed is a new object (caller frees) holding, with the same member shape and contentType,
 * only the values the macro set. On failure *changed is NULL and:
 *   SL_EINVAL   the macro failed: a syntax error, an uncaught exception, an unknown value name,
 *               out of memory. err->msg is "macro failed: <the JavaScript error> (line N)".
 *               Also for bad arguments (code not UTF-8, values not an object).
 *   SL_ETIMEOUT the macro ran over time_ms ("macro ran over its time budget of N ms"); the
 *               worker was killed and replaced.
 *   SL_ETOOBIG  the request (code and values) exceeds MACRO_MAX_REQUEST, or the changed values
 *               exceed max_output.
 *   SL_EIO      the worker died or answered nonsense; it was replaced.
 *   SL_EEXEC    no worker could be started for this call.
 */
int macro_run(macro_runner *r, const char *code, const jv *values, jv **changed, sl_error *err);

/* Stops the workers (closes their sockets so they exit, then SIGTERM, then SIGKILL after a short
 * grace), reaps them and frees the runner. No macro_run may be in progress or start on r.
 * NULL is fine. */
void macro_runner_stop(macro_runner *r);

/* The worker's main loop, for the program's main() when argv[1] is MACRO_WORKER_ARG: reads
 * requests from stdin, runs each in a fresh duktape heap, writes answers to stdout, and returns
 * the process exit status: 0 at end of input, 1 on a protocol or I/O error. */
int macro_worker_main(void);

#endif
