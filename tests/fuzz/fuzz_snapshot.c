/* fuzz_snapshot: Flow snapshots from untrusted bytes. Parses the input as a snapshot (JSON, then
 * structure) and, when it loads, checks its links. Aborts on a violated invariant: a refusal
 * always carries at least one problem; every problem has a JSON pointer ("" or starting with
 * '/'); a loaded model finds each of its map elements and other elements by id; outcomes are
 * sorted by order and resolve to exactly what a lookup of their target gives; the start element
 * is the lookup of startMapElementId; the link check's count matches the problems it added. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flow/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_pointers(const sl_problems *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const char *ptr = p->items[i].pointer;
        if (!ptr || (ptr[0] != '\0' && ptr[0] != '/'))
            abort();
        if (!p->items[i].message || !p->items[i].message[0])
            abort();
    }
}

static void check_model(const flow_snapshot *s)
{
    if (!s->id || !s->name || !s->start_id || !s->json)
        abort();
    if (s->start != snapshot_map_element(s, s->start_id))
        abort();
    for (size_t i = 0; i < s->n_map_elements; i++) {
        const snap_map_element *e = &s->map_elements[i];
        const snap_map_element *found = snapshot_map_element(s, e->id);
        if (!found || strcasecmp(found->id, e->id) != 0 || found != e)
            abort(); /* ids are unique, so the lookup must give this very element */
        if (e->kind != snapshot_element_kind(e->element_type))
            abort();
        for (size_t j = 0; j < e->n_outcomes; j++) {
            const snap_outcome *o = &e->outcomes[j];
            if (j > 0 && (e->outcomes[j - 1].order > o->order ||
                          (e->outcomes[j - 1].order == o->order && e->outcomes[j - 1].index >= o->index)))
                abort();
            if (o->next != snapshot_map_element(s, o->next_id))
                abort();
            if (snapshot_outcome(e, o->id) != o)
                abort();
        }
    }
    for (int set = 0; set < SNAP_SET_COUNT; set++)
        for (size_t i = 0; i < s->n_elements[set]; i++)
            if (snapshot_element(s, (snap_set)set, s->elements[set][i].id) != &s->elements[set][i])
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_problems p;
    problems_init(&p);
    flow_snapshot *s = NULL;
    int rc = snapshot_parse_text((const char *)data, size, "fuzz.json", &s, &p);
    check_pointers(&p);
    if (rc != 0) {
        if (s || p.n + p.dropped == 0)
            abort();
    } else {
        if (!s || p.n != 0)
            abort();
        check_model(s);
        size_t added = snapshot_check_links(s, "fuzz.json", &p);
        if (added != p.n + p.dropped)
            abort();
        check_pointers(&p);
    }
    snapshot_free(s);
    problems_free(&p);
    return 0;
}
