/* users: shared-web-server users (username + token) for Basic authentication.
 *
 * Design: a token is 32 random bytes shown once; the store keeps only a per-user random salt and
 * SHA-256(salt || token). Because tokens are machine-made with 256 bits of entropy, a fast hash
 * is safe (a slow password hash protects low-entropy human passwords; it would only let a flood of
 * bad requests burn CPU). Verification keeps the user table in memory, compares in constant time,
 * and has the store re-read every second and soon after an unknown credential, so users added by
 * `sluice user add` on the same data directory are accepted by a running server.
 */
#ifndef SLUICE_USERS_H
#define SLUICE_USERS_H

#include "core/store.h"
#include "core/util.h"

typedef struct users users;

users *users_new(store *s);
void users_free(users *u);

/* Creates or replaces user `name` (1-64 chars of [A-Za-z0-9._@-]) with a fresh token, written to
 * token_out (a malloc'd string the caller frees). Returns 0, SL_EINVAL (bad name) or SL_EIO. */
int users_add(store *s, const char *name, char **token_out, sl_error *err);

/* Re-reads the user table from the store (the atom's watcher calls this every second, so a
 * token replaced by `sluice user add` stops working on a running server within a second). */
void users_reload(users *u);

/* Registers kick, called (at most every 250 ms) when a credential is not recognised, so the owner
 * can re-read the table on its own thread (users_reload). Without it, users_verify re-reads the
 * store itself. */
void users_on_unknown(users *u, void (*kick)(void *ctx), void *ctx);

/* Checks a username/token pair against the table in memory. Returns 0 when valid, SL_EAUTH
 * otherwise. Thread-safe; never waits on the store when a kick is registered. */
int users_verify(users *u, const char *name, const char *token);

#endif
