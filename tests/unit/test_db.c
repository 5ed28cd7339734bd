/* kv/db's lookup memo (db.h, invariant 4): a LOOKUP_MEMO lookup hands its
 * entry to the next db_lookup of the same key, and every change that could
 * make the memo wrong — a delete, a replace, a move (expire added), an
 * expiry, a clear, a swap — drops it, so a lookup after a memo always
 * answers what the dict holds. Also kobj_rekey clearing the entry's tag. */
#include "test.h"
#include "kv/db.h"
#include "util/mem.h"

static kobj *str(const char *key, const char *val) {
    return kobj_new_string(key, strlen(key), val, strlen(val), strlen(val));
}

static int is_val(const kobj *o, const char *val) {
    return o && o->vlen == strlen(val) && memcmp(kobj_val(o), val, o->vlen) == 0;
}

/* The memo is taken by the next lookup of its key, and by any other lookup
 * (which then hashes as usual). */
TEST(memo_hands_on_entry) {
    db d = {0};
    db_init(&d, 0);
    kv_now_ms = 1000;
    db_add(&d, str("key:000000000001", "a"));
    db_add(&d, str("key:000000000002", "b"));
    db_add(&d, str("k", "short"));
    db_add(&d, str("a-key-longer-than-sixteen-bytes", "long"));
    const char *keys[] = {"key:000000000001", "k", "a-key-longer-than-sixteen-bytes"};
    for (int i = 0; i < 3; i++) {
        kobj *o = db_lookup(&d, keys[i], strlen(keys[i]), LOOKUP_NOTOUCH | LOOKUP_MEMO);
        CHECK(o != NULL && d.memo == o);
        CHECK(db_lookup(&d, keys[i], strlen(keys[i]), 0) == o);
        CHECK(d.memo == NULL);
    }
    /* another key of the same length (the memo's own key differs in one byte) */
    db_lookup(&d, "key:000000000001", 16, LOOKUP_MEMO);
    CHECK(is_val(db_lookup(&d, "key:000000000002", 16, 0), "b"));
    CHECK(d.memo == NULL);
    /* keys of 1 to 40 bytes that differ in one byte, anywhere */
    char k1[40], k2[40];
    for (size_t len = 1; len <= 40; len++) {
        for (size_t at = 0; at < len; at++) {
            memset(k1, 'a', len);
            memcpy(k2, k1, len);
            k2[at] = 'b';
            db_add(&d, kobj_new_string(k1, len, "one", 3, 3));
            db_add(&d, kobj_new_string(k2, len, "two", 3, 3));
            db_lookup(&d, k1, len, LOOKUP_MEMO);
            CHECK(is_val(db_lookup(&d, k2, len, 0), "two"));
            db_lookup(&d, k2, len, LOOKUP_MEMO);
            CHECK(is_val(db_lookup(&d, k1, len, 0), "one"));
            db_delete(&d, k1, len);
            db_delete(&d, k2, len);
        }
    }
    /* a key that is a prefix of the memo's */
    db_lookup(&d, "key:000000000001", 16, LOOKUP_MEMO);
    CHECK(db_lookup(&d, "key:00000000000", 15, 0) == NULL);
    /* a missing key leaves no memo */
    CHECK(db_lookup(&d, "nope", 4, LOOKUP_MEMO) == NULL);
    CHECK(d.memo == NULL);
    db_clear(&d);
}

/* After a memo, the key deleted and added again: the lookup finds the new
 * entry, never the freed one. */
TEST(memo_dropped_by_delete_and_replace) {
    db d = {0};
    db_init(&d, 0);
    kv_now_ms = 1000;
    db_add(&d, str("key:000000000001", "old"));
    db_lookup(&d, "key:000000000001", 16, LOOKUP_MEMO);
    CHECK(db_delete(&d, "key:000000000001", 16) == 1);
    CHECK(d.memo == NULL);
    db_add(&d, str("key:000000000001", "new"));
    CHECK(is_val(db_lookup(&d, "key:000000000001", 16, 0), "new"));

    kobj *o = db_lookup(&d, "key:000000000001", 16, LOOKUP_MEMO);
    kobj *n = db_replace(&d, o, str("key:000000000001", "replaced"));
    CHECK(d.memo == NULL);
    CHECK(db_lookup(&d, "key:000000000001", 16, 0) == n);

    /* an expire time added moves the entry */
    o = db_lookup(&d, "key:000000000001", 16, LOOKUP_MEMO);
    n = db_set_expire(&d, o, 5000);
    CHECK(d.memo == NULL);
    CHECK(db_lookup(&d, "key:000000000001", 16, 0) == n);

    /* a string grown past its room moves too */
    o = db_lookup(&d, "key:000000000001", 16, LOOKUP_MEMO);
    n = db_set_string_value(&d, o, "a value far longer than the room the entry had", 46);
    CHECK(n != o && d.memo == NULL);
    CHECK(db_lookup(&d, "key:000000000001", 16, 0) == n);

    /* unlinked (RENAME's first step) */
    db_lookup(&d, "key:000000000001", 16, LOOKUP_MEMO);
    kobj *u = db_unlink(&d, "key:000000000001", 16);
    CHECK(u == n && d.memo == NULL);
    CHECK(db_lookup(&d, "key:000000000001", 16, 0) == NULL);
    kobj_free(u);
    db_clear(&d);
}

/* The memo's entry expires before the next lookup: it is expired there,
 * as a hashed lookup would. */
TEST(memo_checks_expiry) {
    db d = {0};
    db_init(&d, 0);
    kv_now_ms = 1000;
    kobj *o = str("key:000000000001", "v");
    db_add(&d, o);
    o = db_set_expire(&d, o, 2000);
    CHECK(db_lookup(&d, "key:000000000001", 16, LOOKUP_MEMO) == o);
    kv_now_ms = 2001;
    CHECK(db_lookup(&d, "key:000000000001", 16, 0) == NULL);
    CHECK(db_size(&d) == 0);
    CHECK(d.memo == NULL);
    /* expired by the memo lookup itself */
    o = str("key:000000000002", "v");
    db_add(&d, o);
    db_set_expire(&d, o, 1500);
    CHECK(db_lookup(&d, "key:000000000002", 16, LOOKUP_MEMO) == NULL);
    CHECK(d.memo == NULL);
    db_clear(&d);
}

/* FLUSHDB (clear) and SWAPDB (swap) drop the memos of the dbs involved. */
TEST(memo_dropped_by_clear_and_swap) {
    db a = {0}, b = {0};
    db_init(&a, 0);
    db_init(&b, 1);
    kv_now_ms = 1000;
    db_add(&a, str("key:000000000001", "in a"));
    db_add(&b, str("key:000000000001", "in b"));
    db_lookup(&a, "key:000000000001", 16, LOOKUP_MEMO);
    db_swap_contents(&a, &b);
    CHECK(a.memo == NULL && b.memo == NULL);
    CHECK(is_val(db_lookup(&a, "key:000000000001", 16, 0), "in b"));
    db_lookup(&a, "key:000000000001", 16, LOOKUP_MEMO);
    db_clear(&a);
    CHECK(a.memo == NULL);
    CHECK(db_lookup(&a, "key:000000000001", 16, 0) == NULL);
    db_clear(&a);
    db_clear(&b);
}

/* The tag is a fact about the key's name: kept when the entry moves,
 * cleared when the key changes. */
TEST(tag_follows_the_name) {
    db d = {0};
    db_init(&d, 0);
    kv_now_ms = 1000;
    kobj *o = str("key:000000000001", "v");
    CHECK(o->tag == 0);
    db_add(&d, o);
    o->tag = 0x0102;
    o = db_set_expire(&d, o, 5000);
    CHECK(o->tag == 0x0102);
    o = db_set_meta(&d, o, 7);
    CHECK(o->tag == 0x0102);
    o = db_unlink(&d, "key:000000000001", 16);
    o = kobj_rekey(o, "other:1", 7);
    CHECK(o->tag == 0);
    kobj_free(o);
    db_clear(&d);
}

int main(void) {
    RUN(memo_hands_on_entry);
    RUN(memo_dropped_by_delete_and_replace);
    RUN(memo_checks_expiry);
    RUN(memo_dropped_by_clear_and_swap);
    RUN(tag_follows_the_name);
    return test_report();
}
