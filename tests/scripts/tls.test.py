"""TLS: a CA, server and client certificates made with openssl; python3-redis
connects over TLS with a client certificate; without one the handshake is
refused (tls-auth-clients yes); with tls-auth-clients optional it is accepted;
the plain port keeps working beside the TLS one; a large value crosses intact."""
import os
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from larder_harness import Results, Server, free_port  # noqa: E402

D = tempfile.mkdtemp(prefix="larder-tls-")


def sh(*args):
    subprocess.run(args, cwd=D, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certs():
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
       "-days", "2", "-subj", "/CN=Larder Test CA")
    for name, cn in (("server", "localhost"), ("client", "client")):
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
           "-subj", "/CN=" + cn)
        sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
           "-CAcreateserial", "-out", name + ".crt", "-days", "2")


def p(name):
    return os.path.join(D, name)


def tls_client(port, with_cert=True):
    kw = dict(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=p("ca.crt"), ssl_cert_reqs="required",
              ssl_check_hostname=False, socket_timeout=10)
    if with_cert:
        kw.update(ssl_certfile=p("client.crt"), ssl_keyfile=p("client.key"))
    return redis.Redis(**kw)


def main():
    make_certs()
    res = Results()
    tls_port = free_port()
    srv = Server(args=["--tls-port", str(tls_port), "--tls-cert-file", p("server.crt"),
                       "--tls-key-file", p("server.key"), "--tls-ca-cert-file", p("ca.crt")])
    try:
        def roundtrip():
            r = tls_client(tls_port)
            assert r.set("k", "v") and r.get("k") == b"v"
            big = os.urandom(3 * 1024 * 1024)
            assert r.set("big", big) and r.get("big") == big
            pipe = r.pipeline()
            for i in range(1000):
                pipe.incr("n")
            assert pipe.execute()[-1] == 1000

        def refused_without_cert():
            try:
                tls_client(tls_port, with_cert=False).ping()
                raise AssertionError("connected without a client certificate")
            except (redis.ConnectionError, ssl.SSLError, OSError):
                pass

        def plain_port_still_works():
            r = redis.Redis(port=srv.port)
            assert r.get("k") == b"v"

        def optional_client_certs():
            r = redis.Redis(port=srv.port)
            assert r.config_set("tls-auth-clients", "optional")
            assert tls_client(tls_port, with_cert=False).ping()

        res.run("roundtrip", roundtrip)
        res.run("refused_without_cert", refused_without_cert)
        res.run("plain_port_still_works", plain_port_still_works)
        res.run("optional_client_certs", optional_client_certs)
    finally:
        srv.stop()
        subprocess.run(["rm", "-rf", D])
    res.report()


main()
