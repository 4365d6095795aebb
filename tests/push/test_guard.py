"""The address guard (SPEC 2.4, 5): hostile webhook URLs and addresses are refused.

Everything here is pure checking: no URL in this file is ever fetched.
"""

from __future__ import annotations

import ipaddress

import pytest

from schedo.server.domain.addresses import AddressRefused, check_ip, check_url

# Refused whether or not the operator allows private targets.
ALWAYS_REFUSED = [
    # cloud metadata, in many spellings
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.169.254:80/",
    "http://2852039166/",  # decimal integer
    "http://0xa9fea9fe/",  # single hex number
    "http://0xa9.0xfe.0xa9.0xfe/",  # dotted hex
    "http://0251.0376.0251.0376/",  # dotted octal
    "http://169.254.43518/",  # short form a.b.c16
    "http://169.16689662/",  # short form a.b24
    "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped IPv6, hex
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64
    "http://[2002:a9fe:a9fe::1]/",  # 6to4
    "http://[fd00:ec2::254]/",  # AWS IMDS over IPv6
    "http://169.254.170.2/v2/credentials",  # ECS task credentials
    "http://100.100.100.200/latest/meta-data/",  # Alibaba
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.google.internal./",
    "http://169.254.169.254./",  # trailing dot
    # unspecified, multicast, broadcast, reserved
    "http://0.0.0.0/",
    "http://0/",
    "http://0x0/",
    "http://[::]/",
    "http://[::ffff:0.0.0.0]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://192.0.2.1/",  # documentation
    "http://[2001:db8::1]/",  # documentation
    # other schemes
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "javascript:alert(1)",
    "data:text/plain,hello",
    "dict://127.0.0.1:11211/stat",
    "ws://example.com/hook",
    "example.com/hook",  # no scheme
    "//example.com/hook",  # scheme-relative
    # credentials
    "http://user:pass@example.com/hook",
    "https://user@example.com/hook",
    "http://@example.com/hook",
    "http://example.com@127.0.0.1/",
    "http://evil.com\\@127.0.0.1/",
    # no or broken host, bad port, odd characters
    "http:///hook",
    "http://",
    "https:",
    "http:/example.com/",
    "",
    "http://example.com:0/",
    "http://example.com:99999/",
    "http://exa mple.com/",
    " http://example.com/",
    "http://example.com/\r\nX-Injected: 1",
    "http://%31%32%37.0.0.1/",  # percent-encoded host
    "http://1.2.3.4.5/",  # ends in a number but is not an IPv4 address
    "http://256.1.1.1/",
    "http://0x100000000/",
    "http://08.0.0.1/",  # not octal
    "http://[::1/",
    # four dotted parts with leading zeros: httpx (hence the client) cannot use them at all
    "http://127.000.000.001/",
    "http://0300.0250.1.1/",
    "http://010.0.0.1/",
    "http://[fe80::1%25eth0/",
]

# Refused unless the operator allows private targets.
PRIVATE = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8000/hook",
    "http://127.1/",
    "http://127.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://0x7f.1/",
    "http://0177.1/",
    "http://017700000001/",
    "http://127.0.0.1./",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://localhost/",
    "http://LOCALHOST:8080/",
    "http://localhost./",
    "http://api.localhost/",
    "http://10.0.0.1/",
    "http://10.1/",
    "http://167772161/",  # 10.0.0.1
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://0xc0a80101/",  # 192.168.1.1
    "http://[::ffff:192.168.1.1]/",
    "http://169.254.1.1/",  # link-local
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://100.64.0.1/",  # shared CGNAT
    "http://100.127.255.254/",
    "http://[fd00::1]/",  # unique-local
    "http://[fd12:3456:789a::1]/",
    "http://[fc00::1]/",
    "http://[fec0::1]/",  # site-local
]

PUBLIC = [
    "https://example.com/hook",
    "http://example.com/",
    "HTTPS://Example.COM:8443/hook?x=1#frag",
    "https://93.184.215.14/x",
    "http://8.8.8.8/",
    "http://134744072/",  # 8.8.8.8 as a decimal integer: public, fine
    "http://[2606:4700::1111]/",
    "http://[2606:4700:4700::1111]:8080/hook",
    "http://[::ffff:8.8.8.8]/",
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "https://my-service.internal.example.org/hook",
    "https://xn--bcher-kva.example/hook",
    "https://bücher.example/hook",
    "http://localhost.example.com/",
    "http://169.254.169.254.nip.io/",  # a name: judged after resolution, at connect time
    "http://a_b.example.com/",
]


def test_the_table_is_large() -> None:
    assert len(ALWAYS_REFUSED) + len(PRIVATE) >= 40


@pytest.mark.parametrize("url", ALWAYS_REFUSED + PRIVATE)
def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(AddressRefused, match="webhook_url"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_always_refused_even_when_private_targets_are_allowed(url: str) -> None:
    with pytest.raises(AddressRefused, match="webhook_url"):
        check_url(url, allow_private=True)


@pytest.mark.parametrize("url", PRIVATE)
def test_private_targets_allowed_when_the_operator_says_so(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize("url", PUBLIC)
@pytest.mark.parametrize("allow_private", [False, True])
def test_public_targets_pass(url: str, allow_private: bool) -> None:
    check_url(url, allow_private=allow_private)


def test_messages_say_what_is_wrong() -> None:
    cases = {
        "ftp://example.com/": "http or https",
        "http://u:p@example.com/": "credentials",
        "http:///x": "needs a host",
        "http://2130706433/": "loopback address (127.0.0.1)",
        "http://0xa9fea9fe/": "metadata",
        "http://[::ffff:10.0.0.1]/": "private address (10.0.0.1)",
        "http://localhost/": "SCHEDO_ALLOW_PRIVATE_WEBHOOKS",
        "http://[fd00::1]/": "unique-local",
        "http://224.0.0.1/": "multicast",
        "http://0177.0.0.1/": "loopback address (127.0.0.1)",
        "http://0251.0376.0251.0376/": "metadata",
    }
    for url, fragment in cases.items():
        with pytest.raises(AddressRefused) as info:
            check_url(url, allow_private=False)
        assert fragment in str(info.value), (url, str(info.value))
        assert str(info.value).startswith("webhook_url"), str(info.value)


# ------------------------------------------------------------------ check_ip

IP = ipaddress.ip_address


@pytest.mark.parametrize(
    "addr",
    [
        "169.254.169.254",
        "169.254.170.2",
        "100.100.100.200",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "0.0.0.0",
        "::",
        "224.0.0.251",
        "ff02::fb",
        "255.255.255.255",
        "240.1.2.3",
        "2001::1",  # Teredo
        "198.51.100.7",  # documentation
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_check_ip_always_refused(addr: str, allow_private: bool) -> None:
    with pytest.raises(AddressRefused):
        check_ip(IP(addr), allow_private=allow_private)


@pytest.mark.parametrize(
    "addr",
    [
        "127.0.0.1",
        "127.255.255.254",
        "::1",
        "10.20.30.40",
        "172.20.1.1",
        "192.168.0.10",
        "169.254.10.10",
        "100.64.1.1",
        "fe80::abcd",
        "fd00::1",
        "fc01::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    ],
)
def test_check_ip_private(addr: str) -> None:
    with pytest.raises(AddressRefused, match="SCHEDO_ALLOW_PRIVATE_WEBHOOKS"):
        check_ip(IP(addr), allow_private=False)
    check_ip(IP(addr), allow_private=True)


@pytest.mark.parametrize(
    "addr", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:1.1.1.1", "64:ff9b::808:808"]
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_check_ip_public(addr: str, allow_private: bool) -> None:
    check_ip(IP(addr), allow_private=allow_private)


def test_check_ip_ignores_the_zone_of_a_scoped_address() -> None:
    with pytest.raises(AddressRefused, match="metadata"):
        check_ip(ipaddress.IPv6Address("fd00:ec2::254%eth0"), allow_private=True)
    with pytest.raises(AddressRefused, match="link-local"):
        check_ip(ipaddress.IPv6Address("fe80::1%2"), allow_private=False)


def test_check_ip_names_the_host_it_resolved() -> None:
    with pytest.raises(AddressRefused) as info:
        check_ip(IP("10.0.0.5"), allow_private=False, host="intranet.example")
    assert "'intranet.example' resolves to a private address (10.0.0.5)" in str(info.value)


def test_programming_errors_raise_type_error() -> None:
    with pytest.raises(TypeError):
        check_ip("127.0.0.1", allow_private=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        check_url(b"http://example.com/", allow_private=False)  # type: ignore[arg-type]
