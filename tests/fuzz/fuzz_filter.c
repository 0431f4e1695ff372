/* fuzz_filter: the list filter → SQL translation (table_filter_sql) from untrusted bytes. The
 * input is parsed as JSON and used as the listFilter against a fixed table (every supported
 * column kind, an unsupported one, an alias, a name with a quote in it), for both dialects,
 * with the search columns unset and set. Oracles (abort on violation): the call either fails
 * with a message or writes SQL in which every double-quoted identifier is a column of the table,
 * the only string literal is the ESCAPE character '\', everything else is keywords, operators
 * and placeholders, parentheses balance, every placeholder is numbered within the bound
 * parameters, and each parameter is a string, null or integer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atom/tableaction.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char TABLE_JSON[] =
    "{\"name\":\"country\",\"columns\":["
    "{\"name\":\"id\",\"type\":\"integer\",\"pk\":1,\"autoincrement\":true},"
    "{\"name\":\"code\",\"type\":\"character(3)\",\"pk\":2},"
    "{\"name\":\"name\",\"type\":\"character varying(255)\",\"pk\":0,\"comment\":\"{{ManyWhoName:The Name}}\"},"
    "{\"name\":\"we\\\"ird\",\"type\":\"text\",\"pk\":0},"
    "{\"name\":\"big\",\"type\":\"boolean\",\"pk\":0},"
    "{\"name\":\"price\",\"type\":\"numeric(20,2)\",\"pk\":0},"
    "{\"name\":\"born\",\"type\":\"date\",\"pk\":0},"
    "{\"name\":\"at\",\"type\":\"timestamp with time zone\",\"pk\":0},"
    "{\"name\":\"local\",\"type\":\"timestamp\",\"pk\":0},"
    "{\"name\":\"uid\",\"type\":\"uuid\",\"pk\":0},"
    "{\"name\":\"t\",\"type\":\"time\",\"pk\":0}]}";

static const char *const COLUMNS[] = {"id", "code", "name", "we\"ird", "big", "price", "born", "at", "local", "uid", "t",
                                      NULL};

static void check_sql(const char *sql, size_t nparams)
{
    int depth = 0;
    const char *p = sql;
    while (*p) {
        char c = *p;
        if (c == '"') {
            char ident[64];
            size_t n = 0;
            p++;
            for (;;) {
                if (!*p)
                    abort(); /* unterminated identifier */
                if (*p == '"') {
                    if (p[1] != '"')
                        break;
                    p++;
                }
                if (n + 1 >= sizeof ident)
                    abort();
                ident[n++] = *p++;
            }
            ident[n] = '\0';
            p++;
            bool known = false;
            for (size_t i = 0; COLUMNS[i] && !known; i++)
                known = strcmp(COLUMNS[i], ident) == 0;
            if (!known)
                abort(); /* an identifier that is not a column */
            continue;
        }
        if (c == '\'') {
            if (strncmp(p, "'\\'", 3) != 0)
                abort(); /* a literal other than the ESCAPE character */
            p += 3;
            continue;
        }
        if (c == '?' || c == '$') {
            p++;
            long n = 0;
            if (*p < '1' || *p > '9')
                abort();
            while (*p >= '0' && *p <= '9')
                n = n * 10 + (*p++ - '0');
            if ((size_t)n > nparams)
                abort(); /* a placeholder without a value */
            continue;
        }
        if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (--depth < 0)
                abort();
        } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' ||
                   c == ',' || c == '=' || c == '<' || c == '>')) {
            abort(); /* anything else would be text that came from the input */
        }
        p++;
    }
    if (depth != 0)
        abort();
}

static void run(sqldb_kind kind, const jv *table, const jv *filter, const jv *search)
{
    buf sql;
    buf_init(&sql, 1 << 20);
    jv *params = jv_new_array();
    sl_error err = {0};
    int rc = table_filter_sql(kind, table, filter, search, 100, &sql, params, &err);
    if (rc != 0) {
        if (rc != SL_EINVAL && rc != SL_ETOOBIG)
            abort();
        if (!err.msg[0])
            abort();
    } else {
        if (!sql.data || !strstr(sql.data, " LIMIT "))
            abort();
        check_sql(sql.data, jv_len(params));
        for (size_t i = 0; i < jv_len(params); i++) {
            jv_type t = jv_typeof(jv_at(params, i));
            if (t != JV_STRING && t != JV_NULL && t != JV_INT)
                abort();
        }
        char *dump = jv_dumps(params);
        if (!dump)
            abort();
        free(dump);
    }
    jv_free(params);
    buf_free(&sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static jv *table, *search;
    if (!table) {
        sl_error e;
        table = jv_parse(TABLE_JSON, strlen(TABLE_JSON), &e);
        static const char s[] = "[{\"developerName\":\"The Name\"},\"code\",{\"developerName\":\"id\"},\"we\\\"ird\"]";
        search = jv_parse(s, strlen(s), &e);
        if (!table || !search)
            abort();
    }
    sl_error err;
    jv *filter = jv_parse((const char *)data, size, &err);
    if (!filter)
        return 0;
    run(SQLDB_SQLITE, table, filter, NULL);
    run(SQLDB_POSTGRES, table, filter, NULL);
    run(SQLDB_SQLITE, table, filter, search);
    run(SQLDB_POSTGRES, table, filter, search);
    jv_free(filter);
    return 0;
}
