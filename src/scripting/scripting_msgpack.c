/* scripting/scripting_msgpack — the `cmsgpack` Lua library Redis scripts use:
 *
 *   cmsgpack.pack(v1, ...)            -> the MessagePack encodings of v1..vn, concatenated
 *   cmsgpack.unpack(s)                -> every value in s (multiple results)
 *   cmsgpack.unpack_one(s [, off])    -> next offset (-1 at the end), one value
 *   cmsgpack.unpack_limit(s, n [, off]) -> next offset (-1 at the end), up to n values
 *
 * Written for Larder to behave as the library bundled with Redis 7.0 (the
 * encodings are byte-for-byte what its test suite expects):
 *   nil c0 · false c2 · true c3
 *   a number that is an integer in int64 range -> the smallest integer form
 *     (fixint, cc/cd/ce/cf unsigned, e0.. negative fixint, d0/d1/d2/d3 signed);
 *     any other number -> float32 (ca) when that is exact, else float64 (cb)
 *   a string -> fixstr (< 32 bytes), d9 (< 256), da (< 65536), db
 *   a table whose keys are exactly 1..n -> an array (9x, dc, dd; {} is an empty
 *     array), any other table -> a map (8x, de, df) in lua_next order
 *   tables nested deeper than 16 levels, functions, userdata -> nil
 * Unpacking turns integers and floats into Lua numbers, strings into strings,
 * arrays into tables indexed from 1, maps into tables (a nil key drops its
 * pair); a truncated input raises "Missing bytes in input.", any other type
 * byte (bin, ext, c1) "Bad data format in input.", as in Redis. */
#include "scripting/scripting.h"
#include "util/mem.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_NESTING 16

/* ---- packing ------------------------------------------------------------------- */

static void put_be(sbuf *b, unsigned char tag, uint64_t v, int bytes) {
    unsigned char out[9];
    out[0] = tag;
    for (int i = 0; i < bytes; i++) out[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    sbuf_append(b, out, (size_t)bytes + 1);
}

static void pack_int(sbuf *b, int64_t n) {
    if (n >= 0) {
        uint64_t u = (uint64_t)n;
        if (u <= 0x7f) {
            unsigned char c = (unsigned char)u;
            sbuf_append(b, &c, 1);
        } else if (u <= 0xff) {
            put_be(b, 0xcc, u, 1);
        } else if (u <= 0xffff) {
            put_be(b, 0xcd, u, 2);
        } else if (u <= 0xffffffffULL) {
            put_be(b, 0xce, u, 4);
        } else {
            put_be(b, 0xcf, u, 8);
        }
    } else if (n >= -32) {
        unsigned char c = (unsigned char)(int8_t)n; /* 111xxxxx */
        sbuf_append(b, &c, 1);
    } else if (n >= INT8_MIN) {
        put_be(b, 0xd0, (uint64_t)n, 1);
    } else if (n >= INT16_MIN) {
        put_be(b, 0xd1, (uint64_t)n, 2);
    } else if (n >= INT32_MIN) {
        put_be(b, 0xd2, (uint64_t)n, 4);
    } else {
        put_be(b, 0xd3, (uint64_t)n, 8);
    }
}

static void pack_number(sbuf *b, lua_Number n) {
    /* an integer in int64 range: -2^63 <= n < 2^63 with no fraction */
    if (!isnan(n) && n >= -9223372036854775808.0 && n < 9223372036854775808.0 && n == floor(n)) {
        pack_int(b, (int64_t)n);
        return;
    }
    float f = (float)n;
    if ((lua_Number)f == n) {
        uint32_t u;
        memcpy(&u, &f, 4);
        put_be(b, 0xca, u, 4);
    } else {
        uint64_t u;
        double d = n;
        memcpy(&u, &d, 8);
        put_be(b, 0xcb, u, 8);
    }
}

static void pack_header(sbuf *b, size_t n, unsigned char fix, size_t fixmax, unsigned char t8,
                        unsigned char t16, unsigned char t32) {
    if (n < fixmax) {
        unsigned char c = (unsigned char)(fix | n);
        sbuf_append(b, &c, 1);
    } else if (t8 && n <= 0xff) {
        put_be(b, t8, n, 1);
    } else if (n <= 0xffff) {
        put_be(b, t16, n, 2);
    } else {
        put_be(b, t32, n, 4);
    }
}

/* The table at idx: its length if its keys are exactly 1..n, else -1. */
static long array_length(lua_State *L, int idx) {
    long count = 0;
    lua_Number max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return -1;
        }
        lua_Number k = lua_tonumber(L, -1);
        if (k <= 0 || k != floor(k)) {
            lua_pop(L, 1);
            return -1;
        }
        if (k > max) max = k;
        count++;
    }
    return max == (lua_Number)count ? count : -1;
}

static void pack_value(lua_State *L, sbuf *b, int idx, int level);

static void pack_table(lua_State *L, sbuf *b, int idx, int level) {
    if (!lua_checkstack(L, 4)) { /* never at 16 levels; raising here would leak b */
        static const unsigned char nil = 0xc0;
        sbuf_append(b, &nil, 1);
        return;
    }
    long n = array_length(L, idx);
    if (n >= 0) {
        pack_header(b, (size_t)n, 0x90, 16, 0, 0xdc, 0xdd);
        for (long i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (int)i);
            pack_value(L, b, lua_gettop(L), level + 1);
            lua_pop(L, 1);
        }
        return;
    }
    size_t pairs = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        pairs++;
    }
    pack_header(b, pairs, 0x80, 16, 0, 0xde, 0xdf);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int top = lua_gettop(L);
        pack_value(L, b, top - 1, level + 1);
        pack_value(L, b, top, level + 1);
        lua_pop(L, 1);
    }
}

static void pack_value(lua_State *L, sbuf *b, int idx, int level) {
    static const unsigned char nil = 0xc0, no = 0xc2, yes = 0xc3;
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        sbuf_append(b, lua_toboolean(L, idx) ? &yes : &no, 1);
        break;
    case LUA_TNUMBER:
        pack_number(b, lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        pack_header(b, len, 0xa0, 32, 0xd9, 0xda, 0xdb);
        sbuf_append(b, s, len);
        break;
    }
    case LUA_TTABLE:
        if (level < MAX_NESTING)
            pack_table(L, b, idx, level);
        else
            sbuf_append(b, &nil, 1); /* too deep */
        break;
    default:
        sbuf_append(b, &nil, 1);
        break;
    }
}

static int l_pack(lua_State *L) {
    int n = lua_gettop(L);
    if (n == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    sbuf b = SBUF_INIT;
    for (int i = 1; i <= n; i++) pack_value(L, &b, i, 0);
    lua_pushlstring(L, b.p ? b.p : "", b.len);
    sbuf_free(&b);
    return 1;
}

/* ---- unpacking --------------------------------------------------------------------- */

enum { CUR_OK, CUR_EOF, CUR_BADFMT };

typedef struct cursor {
    const unsigned char *p;
    size_t left;
    int err;
} cursor;

static int need(cursor *c, size_t n) {
    if (c->left < n) {
        c->err = CUR_EOF;
        return 0;
    }
    return 1;
}

static uint64_t take_be(cursor *c, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = (v << 8) | c->p[i];
    c->p += bytes;
    c->left -= (size_t)bytes;
    return v;
}

/* Reads a big-endian length of `bytes` after the type byte (already taken). */
static int take_len(cursor *c, int bytes, size_t *n) {
    if (!need(c, (size_t)bytes)) return 0;
    *n = (size_t)take_be(c, bytes);
    return 1;
}

static void unpack_value(lua_State *L, cursor *c);

static void unpack_string(lua_State *L, cursor *c, size_t n) {
    if (!need(c, n)) return;
    lua_pushlstring(L, (const char *)c->p, n);
    c->p += n;
    c->left -= n;
}

static void unpack_array(lua_State *L, cursor *c, size_t n) {
    luaL_checkstack(L, 2, "cmsgpack: input too deep");
    lua_newtable(L);
    for (size_t i = 1; i <= n && !c->err; i++) {
        unpack_value(L, c);
        if (c->err) return;
        lua_rawseti(L, -2, (int)i);
    }
}

static void unpack_map(lua_State *L, cursor *c, size_t n) {
    luaL_checkstack(L, 3, "cmsgpack: input too deep");
    lua_newtable(L);
    for (size_t i = 0; i < n && !c->err; i++) {
        unpack_value(L, c);
        if (c->err) return;
        unpack_value(L, c);
        if (c->err) return;
        if (lua_isnil(L, -2)) {
            lua_pop(L, 2); /* a nil key cannot be stored */
            continue;
        }
        lua_settable(L, -3);
    }
}

static void unpack_number(lua_State *L, cursor *c, unsigned char t) {
    static const int width[] = {1, 2, 4, 8};
    int w = width[t & 3]; /* cc..cf unsigned, d0..d3 signed: the low bits give the width */
    if (!need(c, (size_t)w)) return;
    uint64_t u = take_be(c, w);
    if (t >= 0xd0) { /* sign-extend */
        int shift = 64 - 8 * w;
        lua_pushnumber(L, (lua_Number)((int64_t)(u << shift) >> shift));
    } else {
        lua_pushnumber(L, (lua_Number)u);
    }
}

static void unpack_float(lua_State *L, cursor *c, unsigned char t) {
    if (t == 0xca) {
        if (!need(c, 4)) return;
        uint32_t u = (uint32_t)take_be(c, 4);
        float f;
        memcpy(&f, &u, 4);
        lua_pushnumber(L, (lua_Number)f);
    } else {
        if (!need(c, 8)) return;
        uint64_t u = take_be(c, 8);
        double d;
        memcpy(&d, &u, 8);
        lua_pushnumber(L, (lua_Number)d);
    }
}

/* Pushes one decoded value, or sets c->err (then the stack may hold a partial
 * value: the caller raises an error anyway). */
static void unpack_value(lua_State *L, cursor *c) {
    size_t n;
    if (!need(c, 1)) return;
    unsigned char t = *c->p++;
    c->left--;
    if (t <= 0x7f)
        lua_pushnumber(L, t);
    else if (t >= 0xe0)
        lua_pushnumber(L, (int8_t)t);
    else if (t >= 0xa0 && t <= 0xbf)
        unpack_string(L, c, t & 0x1f);
    else if (t >= 0x90 && t <= 0x9f)
        unpack_array(L, c, t & 0x0f);
    else if (t >= 0x80 && t <= 0x8f)
        unpack_map(L, c, t & 0x0f);
    else if (t >= 0xcc && t <= 0xd3)
        unpack_number(L, c, t);
    else if (t == 0xca || t == 0xcb)
        unpack_float(L, c, t);
    else if (t == 0xc0)
        lua_pushnil(L);
    else if (t == 0xc2 || t == 0xc3)
        lua_pushboolean(L, t == 0xc3);
    else if (t == 0xd9) {
        if (take_len(c, 1, &n)) unpack_string(L, c, n);
    } else if (t == 0xda) {
        if (take_len(c, 2, &n)) unpack_string(L, c, n);
    } else if (t == 0xdb) {
        if (take_len(c, 4, &n)) unpack_string(L, c, n);
    } else if (t == 0xdc) {
        if (take_len(c, 2, &n)) unpack_array(L, c, n);
    } else if (t == 0xdd) {
        if (take_len(c, 4, &n)) unpack_array(L, c, n);
    } else if (t == 0xde) {
        if (take_len(c, 2, &n)) unpack_map(L, c, n);
    } else if (t == 0xdf) {
        if (take_len(c, 4, &n)) unpack_map(L, c, n);
    } else
        c->err = CUR_BADFMT;
}

/* Decodes up to limit values from offset and puts the next offset (-1 at the
 * end) before them; limit 0 with offset 0 means every value and no offset
 * (that is also what unpack_limit(s, 0) does in Redis). A negative limit or
 * offset is refused with Redis's text, which shows the input length as the
 * limit. */
static int unpack_from(lua_State *L, lua_Integer limit, lua_Integer offset) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int all = limit == 0 && offset == 0;
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                          (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset,
                          (int)len);
    lua_settop(L, 1);
    cursor c = {(const unsigned char *)s + offset, len - (size_t)offset, CUR_OK};
    int count = 0;
    while (c.left > 0 && (all || count < limit)) {
        luaL_checkstack(L, 1, "cmsgpack: too many values");
        unpack_value(L, &c);
        if (c.err)
            return luaL_error(L, c.err == CUR_EOF ? "Missing bytes in input."
                                                  : "Bad data format in input.");
        count++;
    }
    if (all) return count;
    lua_pushnumber(L, c.left == 0 ? -1 : (lua_Number)(len - c.left));
    lua_insert(L, 2);
    return count + 1;
}

static int l_unpack(lua_State *L) {
    return unpack_from(L, 0, 0);
}

static int l_unpack_one(lua_State *L) {
    return unpack_from(L, 1, luaL_optinteger(L, 2, 0));
}

static int l_unpack_limit(lua_State *L) {
    return unpack_from(L, luaL_checkinteger(L, 2), luaL_optinteger(L, 3, 0));
}

int sl_open_cmsgpack(lua_State *L) {
    static const luaL_Reg fns[] = {{"pack", l_pack},
                                   {"unpack", l_unpack},
                                   {"unpack_one", l_unpack_one},
                                   {"unpack_limit", l_unpack_limit},
                                   {NULL, NULL}};
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_pushstring(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    return 1;
}
