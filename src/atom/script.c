/* script: the Lua sandbox behind the process `script` shape (see script.h).
 *
 * Design notes:
 * - The allocator refuses any growth past the cap. Lua then runs an emergency collection and
 *   retries, so a refused allocation is not yet a failure; the run fails with the memory
 *   message only when Lua itself gives up ("not enough memory" reaching the top).
 * - The count hook fires every HOOK_STEP instructions. When the budget is used up (or the
 *   deadline passes, or the execution is cancelled) it raises an error and re-arms itself to fire
 *   on EVERY instruction, so a script that catches the error with pcall dies at its next
 *   instruction; the flags are sticky, so the outcome is decided by them, not by what the
 *   script did with the error. Coroutines are not offered: a new coroutine would start with a
 *   fresh hook count and could run uncounted instructions. __gc metamethods are refused
 *   (setmetatable is wrapped, the array marker metatable is protected): Lua runs finalizers
 *   with hooks switched off, so a finalizer could loop forever.
 * - json.encode and the conversion of the results walk Lua values with API calls that never
 *   raise (raw access, no metamethods, no number-to-string coercion). Object keys are sorted so
 *   output is deterministic (Lua's table order depends on a per-state random seed).
 */
#include "atom/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"

#define HOOK_STEP 1000
#define PRINT_MAX_LINES 100
#define PRINT_MAX_TEXT 1024
#define CHUNK_NAME "=script"

static char json_null_tag; /* its address is json.null (a light userdata) */
static char array_mt_key;  /* registry key of the metatable that marks JSON arrays */

typedef struct run_ctx {
    size_t mem_used, mem_limit;
    bool mem_refused;
    int64_t instr_limit, instr_used;
    bool instr_out;
    bool closing;
    int64_t deadline;
    const _Atomic bool *cancel;
    script_status abort; /* SCRIPT_DEADLINE / SCRIPT_CANCELLED, or SCRIPT_OK */
    /* memory allocated outside Lua while inside the protected call; freed after it */
    char *pending_str;
    jv *pending_jv;
    const char *name;
    int prints;
    const char *src;
    size_t len;
    jv *const *docs;
    size_t ndocs;
    const jv *props;
} run_ctx;

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    run_ctx *c = ud;
    if (!ptr)
        osize = 0; /* osize is then a type tag */
    if (nsize == 0) {
        free(ptr);
        c->mem_used -= osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > c->mem_limit - c->mem_used) {
        c->mem_refused = true;
        return NULL;
    }
    void *np = realloc(ptr, nsize);
    if (!np) {
        c->mem_refused = true;
        return NULL;
    }
    c->mem_used = c->mem_used - osize + nsize;
    return np;
}

static run_ctx *ctx_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    run_ctx *c = ctx_of(L);
    c->instr_used += HOOK_STEP;
    if (!c->instr_out && c->abort == SCRIPT_OK && !c->closing) {
        if (c->instr_used >= c->instr_limit)
            c->instr_out = true;
        else if (c->deadline && mono_ms() >= c->deadline)
            c->abort = SCRIPT_DEADLINE;
        else if (c->cancel && atomic_load(c->cancel))
            c->abort = SCRIPT_CANCELLED;
        else
            return;
    }
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    lua_pushliteral(L, "the script was stopped");
    lua_error(L);
}

/* ------------------------------------------------------------------------------------------ */
/* JSON → Lua (may raise; only borrowed jv values are touched)                                  */

static void set_array_mt(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
    lua_setmetatable(L, idx);
}

static void push_jv(lua_State *L, const jv *v, int depth)
{
    if (depth > SCRIPT_JSON_MAX_DEPTH)
        luaL_error(L, "JSON nests deeper than %d levels", SCRIPT_JSON_MAX_DEPTH);
    luaL_checkstack(L, 4, "JSON nests too deep");
    switch (jv_typeof(v)) {
    case JV_NULL: lua_pushlightuserdata(L, &json_null_tag); break;
    case JV_BOOL: lua_pushboolean(L, jv_bool(v)); break;
    case JV_INT: lua_pushinteger(L, (lua_Integer)jv_int(v)); break;
    case JV_REAL: lua_pushnumber(L, (lua_Number)jv_num(v)); break;
    case JV_STRING: lua_pushlstring(L, jv_str(v), jv_str_len(v)); break;
    case JV_ARRAY: {
        size_t n = jv_len(v);
        lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_jv(L, jv_at(v, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        set_array_mt(L, -1);
        break;
    }
    case JV_OBJECT: {
        size_t n = jv_obj_size(v);
        lua_createtable(L, 0, n > INT_MAX ? INT_MAX : (int)n);
        for (void *it = jv_obj_iter(v); it; it = jv_obj_next(v, it)) {
            lua_pushstring(L, jv_obj_key(it));
            push_jv(L, jv_obj_value(it), depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Lua → JSON (never raises)                                                                    */

typedef struct enc {
    lua_State *L;
    size_t budget, limit;
    char err[256];
} enc;

static jv *enc_fail(enc *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static jv *enc_fail(enc *e, const char *fmt, ...)
{
    if (!e->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err, sizeof e->err, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static bool charge(enc *e, size_t n)
{
    if (n > e->budget) {
        enc_fail(e, "the JSON would be larger than %zu bytes (the script's memory limit)", e->limit);
        return false;
    }
    e->budget -= n;
    return true;
}

static bool is_array_marked(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return false;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
    bool r = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return r;
}

typedef struct kv {
    const char *k;
    size_t klen;
    jv *v;
} kv;

static int cmp_kv(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int r = memcmp(x->k, y->k, n);
    if (r)
        return r;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static jv *to_jv(enc *e, int idx, int depth);

static jv *table_to_jv(enc *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (depth >= SCRIPT_JSON_MAX_DEPTH)
        return enc_fail(e, "tables nest deeper than %d levels (or a table contains itself)", SCRIPT_JSON_MAX_DEPTH);
    if (!lua_checkstack(L, 8))
        return enc_fail(e, "tables nest too deep");
    if (!charge(e, 2))
        return NULL;
    bool marked = is_array_marked(L, idx);
    lua_Unsigned n = lua_rawlen(L, idx);
    size_t count = 0;
    bool seq = true, strs = true;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        int kt = lua_type(L, -2);
        if (kt == LUA_TNUMBER && lua_isinteger(L, -2)) {
            lua_Integer k = lua_tointeger(L, -2);
            if (k < 1 || (lua_Unsigned)k > n)
                seq = false;
            strs = false;
        } else if (kt == LUA_TSTRING) {
            seq = false;
        } else {
            seq = false;
            strs = false;
        }
        lua_pop(L, 1);
    }
    bool as_array = seq && count == n && (count > 0 || marked);
    if (marked && !as_array && count > 0)
        return enc_fail(e, "a table marked as a JSON array has keys other than 1..n");
    if (as_array) {
        jv *arr = jv_new_array();
        for (lua_Unsigned i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            jv *x = charge(e, 1) ? to_jv(e, lua_gettop(L), depth + 1) : NULL;
            lua_pop(L, 1);
            if (!x) {
                jv_free(arr);
                return NULL;
            }
            jv_push_take(arr, x);
        }
        return arr;
    }
    if (!strs && count > 0)
        return enc_fail(e, "a table whose keys are neither all strings nor exactly 1..n cannot be converted to JSON");
    kv *items = xcalloc(count ? count : 1, sizeof *items);
    size_t m = 0;
    jv *res = NULL;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t kl = 0;
        const char *k = lua_tolstring(L, -2, &kl); /* a string key: no conversion */
        jv *x = NULL;
        if (memchr(k, 0, kl))
            enc_fail(e, "an object key contains a NUL character");
        else if (m < count && charge(e, kl + 4))
            x = to_jv(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (!x) {
            lua_pop(L, 1);
            goto out;
        }
        items[m++] = (kv){k, kl, x};
    }
    qsort(items, m, sizeof *items, cmp_kv);
    res = jv_new_object();
    for (size_t i = 0; i < m; i++) {
        jv *x = items[i].v;
        items[i].v = NULL;
        if (jv_set_take(res, items[i].k, x) != 0) {
            enc_fail(e, "an object key is not valid UTF-8");
            jv_free(res);
            res = NULL;
            break;
        }
    }
out:
    for (size_t i = 0; i < m; i++)
        jv_free(items[i].v);
    free(items);
    return res;
}

static jv *to_jv(enc *e, int idx, int depth)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return charge(e, 4) ? jv_new_null() : NULL;
    case LUA_TBOOLEAN:
        return charge(e, 5) ? jv_new_bool(lua_toboolean(L, idx)) : NULL;
    case LUA_TNUMBER:
        if (!charge(e, 24))
            return NULL;
        if (lua_isinteger(L, idx))
            return jv_new_int((int64_t)lua_tointeger(L, idx));
        else {
            double d = (double)lua_tonumber(L, idx);
            if (!isfinite(d))
                return enc_fail(e, "NaN and infinity cannot be converted to JSON");
            return jv_new_real(d);
        }
    case LUA_TSTRING: {
        size_t n = 0;
        const char *s = lua_tolstring(L, idx, &n);
        if (!charge(e, n + 2))
            return NULL;
        jv *v = jv_new_strn(s, n);
        return v ? v : enc_fail(e, "a string is not valid UTF-8");
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == &json_null_tag)
            return charge(e, 4) ? jv_new_null() : NULL;
        break;
    case LUA_TTABLE:
        return table_to_jv(e, idx, depth);
    default:
        break;
    }
    return enc_fail(e, "a %s cannot be converted to JSON", lua_typename(L, lua_type(L, idx)));
}

/* The properties table → object of strings. */
static jv *props_to_jv(enc *e, int idx)
{
    lua_State *L = e->L;
    if (!lua_checkstack(L, 4))
        return enc_fail(e, "out of stack");
    jv *obj = jv_new_object();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            jv_free(obj);
            return enc_fail(e, "properties has a key that is not a string");
        }
        size_t kl = 0, vl = 0;
        const char *k = lua_tolstring(L, -2, &kl);
        char num[32];
        const char *text = NULL;
        const char *bad = NULL;
        switch (lua_type(L, -1)) {
        case LUA_TSTRING: text = lua_tolstring(L, -1, &vl); break;
        case LUA_TBOOLEAN: text = lua_toboolean(L, -1) ? "true" : "false"; vl = strlen(text); break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) {
                snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -1));
            } else {
                double d = (double)lua_tonumber(L, -1);
                if (!isfinite(d)) {
                    bad = "NaN or infinity";
                    break;
                }
                jv_format_double(d, num);
            }
            text = num;
            vl = strlen(num);
            break;
        default: bad = lua_typename(L, lua_type(L, -1)); break;
        }
        jv *v = NULL;
        if (bad)
            enc_fail(e, "property \"%.60s\" must be a string, number or boolean, not a %s", memchr(k, 0, kl) ? "?" : k, bad);
        else if (memchr(k, 0, kl))
            enc_fail(e, "a property name contains a NUL character");
        else if (charge(e, kl + vl + 6) && !(v = jv_new_strn(text, vl)))
            enc_fail(e, "property \"%.60s\" is not valid UTF-8 text", k);
        lua_pop(L, 1);
        if (!v || jv_set_take(obj, k, v) != 0) {
            enc_fail(e, "a property name is not valid UTF-8");
            lua_pop(L, 1);
            jv_free(obj);
            return NULL;
        }
    }
    return obj;
}

/* ------------------------------------------------------------------------------------------ */
/* library functions                                                                            */

static int l_print(lua_State *L)
{
    run_ctx *c = ctx_of(L);
    if (c->prints >= PRINT_MAX_LINES || log_get_level() > LOG_DEBUG)
        return 0;
    c->prints++;
    char text[PRINT_MAX_TEXT + 1];
    size_t len = 0;
    int n = lua_gettop(L);
    for (int i = 1; i <= n && len < PRINT_MAX_TEXT; i++) {
        size_t l = 0;
        const char *s = luaL_tolstring(L, i, &l);
        if (i > 1)
            text[len++] = '\t';
        size_t room = PRINT_MAX_TEXT - len;
        memcpy(text + len, s, l < room ? l : room);
        len += l < room ? l : room;
        lua_pop(L, 1);
    }
    text[len] = '\0';
    log_debug("script", "print", "shape", c->name ? c->name : "", "text", text, NULL);
    return 0;
}

/* setmetatable without finalizers (Lua's own, plus the __gc check). */
static int l_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not allowed in scripts");
        lua_pop(L, 1);
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_json_encode(lua_State *L)
{
    run_ctx *c = ctx_of(L);
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    enc e = {L, c->mem_limit, c->mem_limit, ""};
    jv *v = to_jv(&e, 1, 0);
    if (!v)
        return luaL_error(L, "json.encode: %s", e.err);
    c->pending_str = jv_dumps(v);
    jv_free(v);
    lua_pushstring(L, c->pending_str);
    free(c->pending_str);
    c->pending_str = NULL;
    return 1;
}

static int l_json_decode(lua_State *L)
{
    run_ctx *c = ctx_of(L);
    size_t len = 0;
    const char *s = luaL_checklstring(L, 1, &len);
    if (len > c->mem_limit - c->mem_used) { /* the result could not fit anyway */
        c->mem_refused = true;
        lua_pushliteral(L, "not enough memory");
        return lua_error(L);
    }
    sl_error err = {0};
    jv *v = jv_parse(s, len, &err);
    if (!v)
        return luaL_error(L, "json.decode: %s: %s", err.where, err.msg);
    c->pending_jv = v;
    push_jv(L, v, 0);
    c->pending_jv = NULL;
    jv_free(v);
    return 1;
}

static int l_json_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    set_array_mt(L, 1);
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* the sandbox                                                                                  */

static const char *const allowed_globals[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring", "type", "xpcall",
    "rawequal", "rawget", "rawlen", "rawset", "setmetatable", "getmetatable", "print", "_G", "_VERSION",
    LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME, LUA_UTF8LIBNAME, NULL,
};

static void open_sandbox(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},         {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
        {LUA_MATHLIBNAME, luaopen_math},   {LUA_UTF8LIBNAME, luaopen_utf8},  {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    /* keep only the allowed globals */
    lua_pushnil(L);
    while (lua_next(L, g)) {
        lua_pop(L, 1);
        bool keep = false;
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -1);
            for (size_t i = 0; allowed_globals[i] && !keep; i++)
                keep = strcmp(k, allowed_globals[i]) == 0;
        }
        if (!keep) {
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, g);
        }
    }
    lua_getfield(L, g, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_print);
    lua_setfield(L, g, "print");
    lua_pushcfunction(L, l_setmetatable);
    lua_setfield(L, g, "setmetatable");

    lua_newtable(L); /* the array marker metatable; getmetatable(t) answers "json.array" */
    lua_pushliteral(L, "json.array");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &array_mt_key);
    static const luaL_Reg json_fns[] = {
        {"encode", l_json_encode}, {"decode", l_json_decode}, {"array", l_json_array}, {NULL, NULL},
    };
    luaL_newlib(L, json_fns);
    lua_pushlightuserdata(L, &json_null_tag);
    lua_setfield(L, -2, "null");
    lua_setfield(L, g, "json");
    lua_pop(L, 1);
}

/* The protected body of a run: sandbox, compile, globals, call. Returns [result, properties]. */
static int script_main(lua_State *L)
{
    run_ctx *c = lua_touserdata(L, 1);
    lua_settop(L, 0);
    open_sandbox(L);
    if (luaL_loadbufferx(L, c->src, c->len, CHUNK_NAME, "t") != LUA_OK)
        return lua_error(L);
    lua_createtable(L, c->ndocs > INT_MAX ? INT_MAX : (int)c->ndocs, 0);
    for (size_t i = 0; i < c->ndocs; i++) {
        push_jv(L, c->docs[i], 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    set_array_mt(L, -1);
    lua_setglobal(L, "documents");
    lua_newtable(L);
    for (void *it = jv_obj_iter(c->props); it; it = jv_obj_next(c->props, it)) {
        lua_pushstring(L, jv_obj_key(it));
        push_jv(L, jv_obj_value(it), 1);
        lua_rawset(L, -3);
    }
    lua_setglobal(L, "properties");
    lua_call(L, 0, 1);
    lua_pushglobaltable(L);
    lua_pushliteral(L, "properties");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    return 2;
}

static void describe_error(lua_State *L, char *err, size_t errsz)
{
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: snprintf(err, errsz, "script error: %s", lua_tostring(L, -1)); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1))
            snprintf(err, errsz, "script error: %lld", (long long)lua_tointeger(L, -1));
        else
            snprintf(err, errsz, "script error: %.14g", (double)lua_tonumber(L, -1));
        break;
    default:
        snprintf(err, errsz, "script error: (an error object of type %s)", lua_typename(L, lua_type(L, -1)));
        break;
    }
}

static bool is_oom_message(lua_State *L)
{
    return lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "not enough memory") == 0;
}

static void stop_and_close(lua_State *L, run_ctx *c)
{
    /* finalizers run by lua_close die at their first instruction */
    c->closing = true;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    lua_close(L);
    free(c->pending_str);
    jv_free(c->pending_jv);
    c->pending_str = NULL;
    c->pending_jv = NULL;
}

int script_check(const char *src, size_t len, size_t memory_bytes, char *msg, size_t msgsz)
{
    run_ctx c = {0};
    c.mem_limit = memory_bytes;
    c.instr_limit = SCRIPT_INSTR_MAX;
    lua_State *L = lua_newstate(l_alloc, &c);
    if (!L) {
        snprintf(msg, msgsz, "the memory limit of %zu KiB is too small to run a script", memory_bytes / 1024);
        return SL_ETOOBIG;
    }
    int st = luaL_loadbufferx(L, src, len, CHUNK_NAME, "t");
    int rc = 0;
    if (st == LUA_ERRMEM) {
        snprintf(msg, msgsz, "compiling the script needs more than its %zu KiB memory limit", memory_bytes / 1024);
        rc = SL_ETOOBIG;
    } else if (st != LUA_OK) {
        const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "the script does not compile";
        snprintf(msg, msgsz, "%s", m);
        rc = SL_EINVAL;
    }
    stop_and_close(L, &c);
    return rc;
}

script_status script_run(const char *src, size_t len, const char *name, const script_limits *lim, jv *const *docs,
                         size_t ndocs, const jv *props, jv **out_docs, jv **out_props, char *err, size_t errsz)
{
    *out_docs = NULL;
    *out_props = NULL;
    if (errsz)
        err[0] = '\0';
    run_ctx c = {0};
    c.mem_limit = lim->memory_bytes;
    c.instr_limit = lim->instructions;
    c.deadline = lim->deadline_mono_ms;
    c.cancel = lim->cancel;
    c.name = name;
    c.src = src;
    c.len = len;
    c.docs = docs;
    c.ndocs = ndocs;
    jv *empty = jv_is_object(props) ? NULL : jv_new_object();
    c.props = empty ? empty : props;

    lua_State *L = lua_newstate(l_alloc, &c);
    if (!L) {
        jv_free(empty);
        return SCRIPT_MEMORY;
    }
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
    lua_pushcfunction(L, script_main);
    lua_pushlightuserdata(L, &c);
    int status = lua_pcall(L, 1, 2, 0);

    script_status rs = SCRIPT_OK;
    if (c.abort != SCRIPT_OK) {
        rs = c.abort;
    } else if (c.instr_out) {
        rs = SCRIPT_INSTRUCTIONS;
    } else if (status == LUA_ERRMEM || (status != LUA_OK && c.mem_refused && is_oom_message(L))) {
        rs = SCRIPT_MEMORY;
    } else if (status != LUA_OK) {
        rs = SCRIPT_ERROR;
        describe_error(L, err, errsz);
    } else {
        int ri = lua_gettop(L) - 1, pi = lua_gettop(L);
        enc e = {L, c.mem_limit, c.mem_limit, ""};
        jv *out = NULL;
        int rt = lua_type(L, ri);
        if (rt == LUA_TTABLE) {
            out = to_jv(&e, ri, 0);
            if (!out) {
                snprintf(err, errsz, "the documents the script returned cannot be converted to JSON: %s", e.err);
            } else if (jv_is_object(out) && jv_obj_size(out) == 0) {
                jv_free(out);
                out = jv_new_array();
            } else if (!jv_is_array(out)) {
                snprintf(err, errsz, "the script returned a table with string keys; it must return an array "
                                     "of documents (a sequence of tables) or nil");
                jv_free(out);
                out = NULL;
            } else {
                for (size_t i = 0; i < jv_len(out); i++)
                    if (!jv_is_object(jv_at(out, i))) {
                        snprintf(err, errsz, "document %zu the script returned is a %s, not an object (a table "
                                             "with string keys)", i + 1, jv_type_name(jv_typeof(jv_at(out, i))));
                        jv_free(out);
                        out = NULL;
                        break;
                    }
            }
        } else if (rt != LUA_TNIL) {
            snprintf(err, errsz, "the script returned a %s; it must return an array of documents (a sequence "
                                 "of tables) or nil", lua_typename(L, rt));
        }
        jv *np = NULL;
        if (!err[0]) {
            if (lua_type(L, pi) != LUA_TTABLE)
                snprintf(err, errsz, "the global \"properties\" must stay a table (it is a %s)",
                         lua_typename(L, lua_type(L, pi)));
            else if (!(np = props_to_jv(&e, pi)))
                snprintf(err, errsz, "%s", e.err);
        }
        if (err[0]) {
            jv_free(out);
            jv_free(np);
            rs = SCRIPT_ERROR;
        } else {
            *out_docs = out;
            *out_props = np;
        }
    }
    stop_and_close(L, &c);
    jv_free(empty);
    return rs;
}
