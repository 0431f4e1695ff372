/* script: the Lua sandbox behind the process `script` shape (docs/components.md, "script").
 *
 * Design: every run gets a fresh lua_State whose allocator enforces a byte cap and whose count
 * hook enforces an instruction budget (and notices the execution's deadline and cancellation).
 * Only safe libraries are opened (base without load/dofile/collectgarbage…, string without
 * dump, table, math, utf8) plus a `json` table over the jv facade. Everything that can raise a
 * Lua error runs inside one protected call; memory allocated outside Lua (jv values, strings)
 * while inside it is parked in the run context so a longjmp never leaks it. Conversions from Lua
 * back to JSON never raise and are bounded in depth and size. Nothing global is shared between
 * runs, so runs on different threads are independent.
 */
#ifndef SLUICE_SCRIPT_H
#define SLUICE_SCRIPT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"

#define SCRIPT_MAX_SOURCE ((size_t)1 << 20)  /* bytes of Lua source */
#define SCRIPT_MEM_MIN_KB 1
#define SCRIPT_MEM_MAX_KB 65536
#define SCRIPT_MEM_DEFAULT_KB 8192
#define SCRIPT_INSTR_MIN 1000
#define SCRIPT_INSTR_MAX 1000000000LL
#define SCRIPT_INSTR_DEFAULT 10000000LL
#define SCRIPT_JSON_MAX_DEPTH 128            /* nesting of documents and json values */

typedef enum {
    SCRIPT_OK = 0,
    SCRIPT_ERROR,        /* runtime error or bad return value: err says what */
    SCRIPT_MEMORY,       /* the memory cap was reached */
    SCRIPT_INSTRUCTIONS, /* the instruction budget was used up */
    SCRIPT_DEADLINE,     /* the execution's deadline passed while the script ran */
    SCRIPT_CANCELLED,    /* the cancel flag was raised while the script ran */
} script_status;

typedef struct script_limits {
    size_t memory_bytes;
    int64_t instructions;
    int64_t deadline_mono_ms;   /* 0 = none */
    const _Atomic bool *cancel; /* NULL = none */
} script_limits;

/* Compiles src (text chunks only) in a scratch state capped at memory_bytes. Returns 0;
 * SL_EINVAL with Lua's message ("script:3: ...") in msg; or SL_ETOOBIG when memory_bytes is too
 * small to compile it. */
int script_check(const char *src, size_t len, size_t memory_bytes, char *msg, size_t msgsz);

/* Runs src once over docs[0..ndocs) (borrowed) with the dynamic process properties props
 * (object of strings; borrowed). On SCRIPT_OK: *out_docs is a new array of objects, or NULL when
 * the script returned nil (the input passes on unchanged), and *out_props is the new properties
 * object (new ref). On failure both are NULL and err describes a SCRIPT_ERROR. `name` labels
 * print() output in the debug log. */
script_status script_run(const char *src, size_t len, const char *name, const script_limits *lim, jv *const *docs,
                         size_t ndocs, const jv *props, jv **out_docs, jv **out_props, char *err, size_t errsz);

#endif
