/* Differential test of EVAL: a table of scripts (every Lua -> reply conversion,
 * every reply -> Lua conversion of the string/key commands Larder has, the
 * redis.* helpers, errors of all kinds, the sandbox), each run with seeded
 * random arguments, over RESP2 and RESP3 connections, against larder-server
 * and Debian's redis-server; every reply must render identically. Also
 * EVALSHA / SCRIPT LOAD / SCRIPT EXISTS and EVAL_RO. */
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *scripts[] = {
    /* Lua -> reply */
    "return 1",
    "return -7.9",
    "return 3.99",
    "return 'x'",
    "return ''",
    "return true",
    "return false",
    "return nil",
    "return {}",
    "return {1,2,{3,'a'},'b'}",
    "return {1,nil,3}",
    "return {1,false,3}",
    "return {ok='fine'}",
    "return {err='MYERR custom'}",
    "return {err='no code'}",
    "return redis.error_reply('XERR bad')",
    "return redis.error_reply('-YERR dash')",
    "return redis.error_reply('')",
    "return redis.status_reply('ST ok')",
    "return {double=1.5}",
    "return {double=-0.25}",
    "return {big_number='12345678901234567890'}",
    "return {map={a=1}}",
    "return {set={a=true}}",
    "return {verbatim_string={format='txt',string='hi'}}",
    "return {map={k={1,2}}}",
    "return {{ok='x'},{err='E y'}}",
    "return 1e20",
    "return -1e20",
    "return KEYS",
    "return ARGV",
    "return {KEYS[1], ARGV[1]}",
    "return #ARGV",
    /* reply -> Lua */
    "redis.call('set',KEYS[1],ARGV[1]); return redis.call('get',KEYS[1])",
    "return type(redis.call('get','nokey:x'))",
    "return redis.call('get','nokey:x')",
    "local r = redis.call('set',KEYS[1],'1'); return {type(r), r['ok']}",
    "return redis.call('incr',KEYS[1])",
    "return redis.pcall('incr',KEYS[1])",
    "local e = redis.pcall('incr',KEYS[1]); return type(e)",
    "return redis.call('mget',KEYS[1],'nokey:y',KEYS[1])",
    "return redis.call('exists',KEYS[1],KEYS[1])",
    "return redis.call('del',KEYS[1])",
    "return redis.call('ping')",
    "return redis.call('echo',ARGV[1])",
    "return redis.pcall('set')",
    "return redis.pcall('nosuchcmd')",
    "return redis.pcall('set','a')",
    "return redis.call('setrange',KEYS[1],0,ARGV[1])",
    "return redis.call('strlen',KEYS[1])",
    "redis.call('set',KEYS[1],'10'); return redis.call('incrbyfloat',KEYS[1],ARGV[1])",
    "redis.setresp(3); return redis.call('ping')",
    "redis.setresp(3); return redis.call('get','nokey:z')",
    "redis.setresp(3); return redis.call('mget','nokey:z', KEYS[1])",
    "return redis.call('set',KEYS[1],ARGV[1],'GET')",
    "return redis.pcall('select', 99)",
    "return redis.call('lcs',KEYS[1],KEYS[1])",
    "return redis.pcall('set', KEYS[1], {})",
    "return redis.call('set', KEYS[1], 3.5)",
    "return redis.call('set', KEYS[1], 12039611435714932082) and redis.call('get', KEYS[1])",
    /* helpers and errors */
    "return redis.sha1hex(ARGV[1])",
    "return redis.sha1hex()",
    "return redis.setresp(4)",
    "return redis.call()",
    "return redis.call('nosuchcmd')",
    "return redis.call('get','a','b')",
    "return redis.call('eval','return 1',0)",
    "error('plain')",
    "error({err='TAB le'})",
    "return undefined_global",
    "newglobal = 1",
    "local t = {} ; t.x = 1 ; return t.x",
    "return tostring(redis.replicate_commands())",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.set_repl(99)",
    "return pcall(function() error('in') end)",
    "return {pcall(function() return redis.call('nosuchcmd') end)}",
    "return cjson.encode({a={1,2,3}})",
    "return cjson.decode('[1,2,\"x\"]')",
    "return bit.bxor(5, 3)",
    "return bit.tohex(255)",
    "return string.format('%5.2f', 3.14159)",
    "return table.concat({1,2,3}, ',')",
    "return math.floor(7.5)",
    "return tonumber('0x10')",
    "return loadstring('return 5')()",
    "return type(os)",
    "return type(io)",
    "return redis.REDIS_VERSION_NUM > 0",
    "return syntax error here",
    "return (",
    "local a = {}; local b = {a}; a[1] = b; return 1",
    "return redis.call('expire', KEYS[1], 0)",
    "return redis.log(redis.LOG_DEBUG, 'x')",
/* cmsgpack: the bytes, as hex, and the round trips */
#define HEX                                                                                        \
    "local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h"
    "local e = cmsgpack.pack(tonumber(ARGV[1]) or ARGV[1], ARGV[2]) " HEX,
    "local e = cmsgpack.pack(0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, "
    "2^53) " HEX,
    "local e = cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31-1, -2^53) " HEX,
    "local e = cmsgpack.pack(0.5, -0.25, 0.1, 1e300, -1e-300, 1/0, -1/0, 2^63, -2^63, -0.0) " HEX,
    "local e = cmsgpack.pack(true, false, nil, {}, {1,2,3}, {[1]=1,[3]=3}, {a=1}, "
    "{1,{2,{3}}}) " HEX,
    "local e = cmsgpack.pack(string.rep('x', 31), string.rep('y', 32), string.rep('z', 256)) " HEX,
    "local e = cmsgpack.pack(string.rep('q', 65536), print, redis.call) " HEX,
    "local t = {} for i = 1, 20 do t[i] = i end local e = cmsgpack.pack(t) " HEX,
    "local t = {} for i = 1, 20 do t['k' .. i] = i end return #cmsgpack.pack(t)",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {2, 'b'}, true, -5, 1.5, {k='v'}))}",
    "return cmsgpack.unpack(cmsgpack.pack({x={y={z=ARGV[1]}}})).x.y.z",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 9)}",
    "return {cmsgpack.unpack('')}",
    "return cmsgpack.unpack('\\205')",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.pack()",
    "return {cmsgpack.unpack('\\217\\1c\\218\\0\\1d\\220\\0\\1\\7\\222\\0\\1\\1\\2')}",
    "return {cmsgpack.unpack('\\219\\0\\0\\0\\1e\\221\\0\\0\\0\\1\\7\\223\\0\\0\\0\\1\\1\\2')}",
    "return cmsgpack.unpack('\\196\\2ab')",
    "return cmsgpack.unpack('\\212\\1\\2')",
    "return cmsgpack.unpack('\\203\\1\\2\\192\\3\\4\\5')[4]",
    "return "
    "{cmsgpack.unpack('\\202\\63\\192\\0\\0\\208\\200\\211\\255\\255\\255\\255\\255\\255\\255\\254'"
    ")}",
    "cmsgpack.pack = 1",
    "return type(cmsgpack.unpack_one)",
    /* struct */
    "local e = struct.pack('>i2<i2bBhHlLT', -2, -2, -1, 255, 300, 65535, -5, 7, 9) " HEX,
    "local e = struct.pack('!4bi4!8bd!bh', 1, 2, 3, 1.5, 4, 5) " HEX,
    "local e = struct.pack('i3I3i12>i12', -1, 70000, -7, -7) " HEX,
    "local e = struct.pack('fd>f>d', 0.1, 0.1, -2.5, 1e300) " HEX,
    "local e = struct.pack('sc3c0xs', 'ab', 'xyz', ARGV[1], ARGV[2]) " HEX,
    "return {struct.unpack('>i2<i2bBhHlLT', struct.pack('>i2<i2bBhHlLT', -2, -2, -1, 255, 300, "
    "65535, -5, 7, 9))}",
    "return {struct.unpack('i3I3i12>i12', struct.pack('i3I3i12>i12', -1, 70000, -7, -7))}",
    "return {struct.unpack('!4bi4!8bd!bh', struct.pack('!4bi4!8bd!bh', 1, 2, 3, 1.5, 4, 5))}",
    "return {struct.unpack('fd', struct.pack('fd', 0.1, 0.1))}",
    "return {struct.unpack('sc3bc0xs', struct.pack('sc3bc0xs', 'ab', 'xyz', 2, 'qq', ARGV[1]))}",
    "return {struct.unpack('i2', 'abcdef', 3)}",
    "return {struct.unpack('i2', 'abc', 3)}",
    "return {struct.unpack('i2', 'abc', 0)}",
    "return {struct.unpack('s', 'abc')}",
    "return {struct.unpack('c0', 'abc')}",
    "return {struct.unpack('bc0', '\\2abc')}",
    "return {struct.size('!4bi4!8bd'), struct.size('i12c5x>')}",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.size('z')",
    "return struct.pack('z')",
    "return struct.pack('i40', 1)",
    "return struct.pack('!3i', 1)",
    "return struct.pack('c5', 'ab')",
    "return struct.pack('bb', 1)",
    "return struct.pack('s', 'a\\0b')",
    "return struct.pack('i99999999999', 1)",
    "return struct.pack()",
    "return #struct.pack('  =!i', 1)",
    "struct.pack = nil",
#undef HEX
};

static const char *argvals[] = {"v", "", "42", "-3", "1.5", "abc def", "9007199254740993", "0x1f"};

static void run_all(redisContext *l, redisContext *r, trng *rng) {
    size_t n = sizeof(scripts) / sizeof(scripts[0]);
    for (size_t i = 0; i < n; i++) {
        for (int round = 0; round < 3; round++) {
            const char *argv[8];
            int argc = 0;
            argv[argc++] = "EVAL";
            argv[argc++] = scripts[i];
            argv[argc++] = "1";
            argv[argc++] = trng_below(rng, 2) ? "dk:a" : "dk:b";
            argv[argc++] = argvals[trng_below(rng, 8)];
            argv[argc++] = argvals[trng_below(rng, 8)];
            diff_check(l, r, argc, argv, NULL);
        }
    }
}

static void hello(redisContext *c, int proto) {
    redisReply *x = redisCommand(c, "HELLO %d", proto);
    if (x) freeReplyObject(x);
}

TEST(eval_resp2) {
    srv l, r;
    CHECK(srv_start(&l, NULL) == 0);
    CHECK(srv_start_redis(&r, NULL) == 0);
    redisContext *a = srv_connect(&l), *b = srv_connect(&r);
    trng rng;
    trng_seed(&rng, test_seed("EVAL_SEED", 7));
    run_all(a, b, &rng);
    /* EVALSHA / SCRIPT */
    const char *load[] = {"SCRIPT", "LOAD", "return ARGV[1]"};
    diff_check(a, b, 3, load, NULL);
    const char *sha[] = {"EVALSHA", "8bf80d8c5da2a6f1b91d6d2bc5d8be2cc2e7b32d", "0", "x"};
    diff_check(a, b, 4, sha, NULL);
    const char *exists[] = {"SCRIPT", "EXISTS", "8bf80d8c5da2a6f1b91d6d2bc5d8be2cc2e7b32d", "00"};
    diff_check(a, b, 4, exists, NULL);
    const char *nosha[] = {"EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"};
    diff_check(a, b, 3, nosha, NULL);
    const char *ro[] = {"EVAL_RO", "return redis.call('set','x','1')", "0"};
    diff_check(a, b, 3, ro, NULL);
    const char *ro2[] = {"EVAL_RO", "return redis.call('get','x')", "0"};
    diff_check(a, b, 3, ro2, NULL);
    const char *neg[] = {"EVAL", "return 1", "-1"};
    diff_check(a, b, 3, neg, NULL);
    const char *many[] = {"EVAL", "return 1", "3", "a"};
    diff_check(a, b, 4, many, NULL);
    const char *shebang[] = {"EVAL", "#!lua flags=no-writes\nreturn redis.call('set','x','1')",
                             "0"};
    diff_check(a, b, 3, shebang, NULL);
    const char *badflag[] = {"EVAL", "#!lua flags=bad\nreturn 1", "0"};
    diff_check(a, b, 3, badflag, NULL);
    const char *flush[] = {"SCRIPT", "FLUSH"};
    diff_check(a, b, 2, flush, NULL);
    diff_check(a, b, 4, sha, NULL);
    redisFree(a);
    redisFree(b);
    srv_stop(&l);
    srv_stop(&r);
}

TEST(eval_resp3) {
    srv l, r;
    CHECK(srv_start(&l, NULL) == 0);
    CHECK(srv_start_redis(&r, NULL) == 0);
    redisContext *a = srv_connect(&l), *b = srv_connect(&r);
    hello(a, 3);
    hello(b, 3);
    trng rng;
    trng_seed(&rng, test_seed("EVAL_SEED", 7) + 1);
    run_all(a, b, &rng);
    redisFree(a);
    redisFree(b);
    srv_stop(&l);
    srv_stop(&r);
}

int main(void) {
    RUN(eval_resp2);
    RUN(eval_resp3);
    return test_report();
}
