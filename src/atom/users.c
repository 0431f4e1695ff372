/* users: see users.h. */
#include "atom/users.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

typedef struct user {
    char *name;
    uint8_t salt[16];
    uint8_t hash[SHA256_LEN];
} user;

struct users {
    store *store;
    pthread_rwlock_t lock;
    user *items;
    size_t n;
    _Atomic int64_t last_reload_ms;
    _Atomic int64_t last_kick_ms;
    void (*kick)(void *ctx);
    void *kick_ctx;
};

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '@' || c == '-'))
            return false;
    }
    return true;
}

static void token_hash(const uint8_t salt[16], const char *token, uint8_t out[SHA256_LEN])
{
    size_t tl = strlen(token);
    uint8_t *msg = xmalloc(16 + tl);
    memcpy(msg, salt, 16);
    memcpy(msg + 16, token, tl);
    sha256(msg, 16 + tl, out);
    free(msg);
}

static int hex_decode(const char *hex, uint8_t *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

int users_add(store *s, const char *name, char **token_out, sl_error *err)
{
    if (!name || !name_ok(name))
        return sl_fail(err, SL_EINVAL, "NAME", "a user name is 1-64 characters of A-Z a-z 0-9 . _ @ -");
    uint8_t raw[32], salt[16], hash[SHA256_LEN];
    random_bytes(raw, sizeof raw);
    random_bytes(salt, sizeof salt);
    char hex[65];
    hex_encode(raw, sizeof raw, hex);
    char *token = xasprintf("slt_%s", hex);
    token_hash(salt, token, hash);
    char salt_hex[33], hash_hex[65];
    hex_encode(salt, sizeof salt, salt_hex);
    hex_encode(hash, sizeof hash, hash_hex);
    jv *params = store_params("sssi", name, salt_hex, hash_hex, now_ms());
    int rc = store_exec(s,
                        "INSERT INTO users(name, salt, hash, created_ms) VALUES(?1, ?2, ?3, ?4) "
                        "ON CONFLICT(name) DO UPDATE SET salt = excluded.salt, hash = excluded.hash, "
                        "created_ms = excluded.created_ms",
                        params, NULL, NULL, err);
    jv_free(params);
    if (rc) {
        free(token);
        return rc;
    }
    *token_out = token;
    return 0;
}

users *users_new(store *s)
{
    users *u = xcalloc(1, sizeof *u);
    u->store = s;
    pthread_rwlock_init(&u->lock, NULL);
    return u;
}

static void clear(users *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->items[i].name);
    free(u->items);
    u->items = NULL;
    u->n = 0;
}

void users_free(users *u)
{
    if (!u)
        return;
    clear(u);
    pthread_rwlock_destroy(&u->lock);
    free(u);
}

/* Reads the table from the store WITHOUT holding our lock (the store may be busy writing a batch
 * of execution records), then swaps the new table in under the write lock, which is held only
 * for the pointer swap. Concurrent reloads are harmless: the last one wins. */
static void reload(users *u)
{
    jv *rows = NULL;
    sl_error err = {0};
    if (store_exec(u->store, "SELECT name, salt, hash FROM users", NULL, &rows, NULL, &err) != 0) {
        log_error("auth", "cannot read users", "error", err.msg, NULL);
        return;
    }
    size_t n = jv_len(rows), m = 0;
    user *items = xcalloc(n ? n : 1, sizeof(user));
    for (size_t i = 0; i < n; i++) {
        jv *r = jv_at(rows, i);
        user *x = &items[m];
        if (hex_decode(jv_get_str(r, "salt"), x->salt, 16) || hex_decode(jv_get_str(r, "hash"), x->hash, SHA256_LEN))
            continue;
        x->name = xstrdup(jv_get_str(r, "name"));
        m++;
    }
    jv_free(rows);
    pthread_rwlock_wrlock(&u->lock);
    user *old = u->items;
    size_t oldn = u->n;
    u->items = items;
    u->n = m;
    pthread_rwlock_unlock(&u->lock);
    for (size_t i = 0; i < oldn; i++)
        free(old[i].name);
    free(old);
}

void users_reload(users *u)
{
    atomic_store(&u->last_reload_ms, mono_ms());
    reload(u);
}

static int check(users *u, const char *name, const char *token, bool *known)
{
    *known = false;
    for (size_t i = 0; i < u->n; i++) {
        if (strcmp(u->items[i].name, name) != 0)
            continue;
        *known = true;
        uint8_t h[SHA256_LEN];
        token_hash(u->items[i].salt, token, h);
        return mem_ct_eq(h, u->items[i].hash, SHA256_LEN) ? 0 : SL_EAUTH;
    }
    return SL_EAUTH;
}

void users_on_unknown(users *u, void (*kick)(void *ctx), void *ctx)
{
    u->kick = kick;
    u->kick_ctx = ctx;
}

int users_verify(users *u, const char *name, const char *token)
{
    if (!name || !token || !*token)
        return SL_EAUTH;
    bool known;
    pthread_rwlock_rdlock(&u->lock);
    int rc = check(u, name, token, &known);
    pthread_rwlock_unlock(&u->lock);
    if (rc == 0)
        return 0;
    if (!u->kick) { /* no background thread (one-shot commands): read the table here */
        reload(u);
        pthread_rwlock_rdlock(&u->lock);
        rc = check(u, name, token, &known);
        pthread_rwlock_unlock(&u->lock);
        return rc;
    }
    /* A wrong token for a known user could be a token rotated by `sluice user add` since we last
     * read the table; an unknown name could be a new user. Ask for a re-read (done off the HTTP
     * threads, which must never wait on the store), at most every 250 ms, so a flood of bad
     * requests is neither a flood of database reads nor a stall of the server. */
    int64_t now = mono_ms(), last = atomic_load(&u->last_kick_ms);
    if (u->kick && now - last >= 250 && atomic_compare_exchange_strong(&u->last_kick_ms, &last, now))
        u->kick(u->kick_ctx);
    return rc;
}
