#!/usr/bin/python3
"""tests/fuzz/make-resp-seeds.py — writes the seed corpus tests/fuzz/seeds-resp/ for the
RESP fuzz targets: short pipelines like the traffic of Redis's own test suite
(one file per command family, inline and malformed requests), each after the
control byte the targets read first (bit 0: start unauthenticated).

    /usr/bin/python3 tests/fuzz/make-resp-seeds.py     (from the repository root)"""
import os
D='tests/fuzz/seeds-resp'
def enc(*a):
    out=b'*%d\r\n'%len(a)
    for x in a:
        x=x if isinstance(x,bytes) else str(x).encode()
        out+=b'$%d\r\n%s\r\n'%(len(x),x)
    return out
seeds={
 'strings': [enc('SET','foo','bar'),enc('GET','foo'),enc('INCR','n'),enc('INCRBYFLOAT','f','1.5'),enc('APPEND','foo','x'),enc('SETRANGE','foo','10','zz'),enc('GETRANGE','foo','0','-1'),enc('MSET','a','1','b','2'),enc('MGET','a','b','c'),enc('SET','k','v','EX','100','NX'),enc('GETEX','k','PERSIST'),enc('STRLEN','foo')],
 'lists': [enc('RPUSH','l','a','b','c'),enc('LPUSH','l','z'),enc('LRANGE','l','0','-1'),enc('LPOS','l','b'),enc('LINSERT','l','BEFORE','b','x'),enc('LMOVE','l','l2','LEFT','RIGHT'),enc('BLPOP','l','l2','0.01'),enc('LTRIM','l','0','1')],
 'hashes': [enc('HSET','h','f1','v1','f2','2'),enc('HINCRBY','h','f2','3'),enc('HGETALL','h'),enc('HRANDFIELD','h','-3','WITHVALUES'),enc('HSCAN','h','0','MATCH','f*')],
 'sets': [enc('SADD','s','1','2','3','x'),enc('SINTERCARD','1','s'),enc('SRANDMEMBER','s','-5'),enc('SMEMBERS','s'),enc('SPOP','s','2'),enc('SUNIONSTORE','d','s','s2')],
 'zsets': [enc('ZADD','z','1','a','2','b','3.5','c'),enc('ZRANGE','z','0','-1','WITHSCORES'),enc('ZRANGEBYSCORE','z','(1','+inf','LIMIT','0','1'),enc('ZINCRBY','z','2','a'),enc('ZPOPMIN','z'),enc('ZUNIONSTORE','o','2','z','z2','WEIGHTS','1','2')],
 'streams': [enc('XADD','st','*','f','v'),enc('XADD','st','MAXLEN','~','10','*','a','b'),enc('XRANGE','st','-','+'),enc('XGROUP','CREATE','st','g','0'),enc('XREADGROUP','GROUP','g','c','COUNT','1','STREAMS','st','>'),enc('XINFO','STREAM','st')],
 'multi': [enc('MULTI'),enc('SET','a','1'),enc('INCR','a'),enc('EXEC'),enc('WATCH','a'),enc('MULTI'),enc('DISCARD'),enc('UNWATCH')],
 'pubsub': [enc('SUBSCRIBE','ch'),enc('PSUBSCRIBE','c*'),enc('PING'),enc('UNSUBSCRIBE'),enc('PUNSUBSCRIBE'),enc('PUBLISH','ch','m')],
 'resp3': [enc('HELLO','3'),enc('CLIENT','TRACKING','ON'),enc('GET','foo'),enc('SET','foo','1'),enc('HGETALL','h'),enc('ZSCORE','z','a')],
 'keys': [enc('KEYS','*'),enc('SCAN','0','MATCH','*a*','COUNT','10','TYPE','string'),enc('EXPIRE','foo','10'),enc('TTL','foo'),enc('RENAME','foo','bar'),enc('TYPE','bar'),enc('OBJECT','ENCODING','bar'),enc('DEL','bar'),enc('SELECT','1'),enc('SWAPDB','0','1')],
 'server': [enc('INFO'),enc('CLIENT','LIST'),enc('CLIENT','SETNAME','x'),enc('CONFIG','GET','max*'),enc('COMMAND','COUNT'),enc('COMMAND','DOCS','get'),enc('SLOWLOG','GET'),enc('DBSIZE'),enc('TIME'),enc('ECHO','hi')],
 'bits': [enc('SETBIT','b','7','1'),enc('BITCOUNT','b'),enc('BITPOS','b','1'),enc('BITFIELD','b','INCRBY','u8','0','5'),enc('BITOP','AND','d','b','b'),enc('PFADD','hll','a','b'),enc('PFCOUNT','hll')],
 'auth': [enc('AUTH','pw'),enc('PING'),enc('HELLO','3','AUTH','default','pw'),enc('AUTH','wrong')],
 'larder': [enc('CACHE.GET','k'),enc('LOCK.ACQUIRE','l','1000'),enc('LOCK.RELEASE','l','1'),enc('WB.FLUSH')],
}
raw={
 'inline': b'PING\r\nSET a "b c"\r\nGET a\r\nECHO \'x y\' "\\x41\\n"\r\n',
 'pipeline_partial': enc('SET','a','1')+enc('GET','a')+b'*2\r\n$3\r\nGET\r\n$1',
 'errors': b'*-1\r\n*0\r\n*1\r\n$-5\r\n',
 'bad_header': b'*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n',
 'unauth_big': b'*100000\r\n',
 'unauth_bulk': b'*1\r\n$1000000\r\n',
 'empty_lines': b'\r\n\r\n\n',
}
os.makedirs(D,exist_ok=True)
for i,(k,v) in enumerate(sorted(seeds.items())):
    open(os.path.join(D,k),'wb').write(bytes([i*2 & 0xfe])+b''.join(v))
for i,(k,v) in enumerate(sorted(raw.items())):
    open(os.path.join(D,k),'wb').write(bytes([(i*37)|1 if k.startswith('unauth') else (i*37)&0xfe])+v)
