"""The address policy: which webhook targets the server may reach (SPEC 2.4 and 5).

Pure rules (no I/O). URLs are parsed with httpx's ``URL`` on purpose: the target is judged by
the same parser the push client then connects with, so no parser difference can let a refused
address through. ``push.http`` applies ``check_ip`` at connect time.

Two checks share one set of rules:

* ``check_url`` runs when a job is defined. It refuses what is wrong whatever DNS says: a
  scheme other than http/https, credentials in the URL, a missing host or port 0, and a host
  that is a literal IP address in any spelling resolvers and browsers accept (``2130706433``,
  ``0177.0.0.1``, ``0x7f.1``, ``127.1``, ``[::ffff:127.0.0.1]``, ...) when that address is not
  allowed. Host names pass, except ``localhost``-style names and the well-known cloud metadata
  names; real names are judged after resolution.
* ``check_ip`` runs at connect time on every address a host name resolves to (see
  ``push.http``), so a name that resolves to a private address, or is re-pointed there after the
  job was defined (DNS rebinding), is still refused.

Classes of addresses:

* always refused: cloud metadata addresses, unspecified, multicast, broadcast and reserved
  (240/4), "this network" 0/8, IPv4-compatible IPv6, Teredo, discard-only, documentation and
  every other non-global range;
* refused unless the operator allows private targets (``allow_private``): loopback, RFC 1918,
  link-local, shared CGNAT 100.64/10, IPv6 unique-local fc00::/7 and site-local fec0::/10,
  local-use NAT64 64:ff9b:1::/48;
* IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are judged
  by the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOW_HINT = "private targets need SCHEDO_ALLOW_PRIVATE_WEBHOOKS=1"


class AddressRefused(Exception):
    """A webhook target the guard refuses; ``str()`` is a message fit for the API user."""


def _ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


# Instance metadata / credential endpoints: refused even when private targets are allowed.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    _ip(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle ... IMDS
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
        "168.63.129.16",  # Azure WireServer
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity agent over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
    )
)
METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
LOOPBACK_HOSTS = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[_Net, str], ...]:
    return tuple((ipaddress.ip_network(n), what) for n, what in pairs)


# Refused unless private targets are allowed.
_PRIVATE = _nets(
    ("127.0.0.0/8", "a loopback address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("169.254.0.0/16", "a link-local address"),
    ("100.64.0.0/10", "a shared (CGNAT) address"),
    ("::1/128", "a loopback address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("fc00::/7", "a unique-local address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
)
# Refused always: not a unicast destination anyone should push to.
_NEVER = _nets(
    ("0.0.0.0/8", "an unspecified address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("::/128", "an unspecified address"),
    ("::/96", "an IPv4-compatible IPv6 address"),
    ("ff00::/8", "a multicast address"),
    ("2001::/32", "a Teredo tunnel address"),
    ("100::/64", "a discard-only address"),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _describe(ip: IPAddress, host: str | None) -> str:
    if host is not None and host != str(ip):
        return f"webhook_url host {host!r} resolves to"
    return "webhook_url points to"


def check_ip(ip: IPAddress, *, allow_private: bool, host: str | None = None) -> None:
    """Refuse ``ip`` (a literal or resolved address) unless the server may connect to it.

    ``host`` only improves the message (the name that resolved to ``ip``).
    """
    if not isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        raise TypeError(f"check_ip needs an IPv4Address or IPv6Address, not {type(ip).__name__}")
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        ip = ipaddress.IPv6Address(int(ip))  # judge fe80::1%eth0 as fe80::1
    why = _refusal(ip, allow_private)
    if why is not None:
        raise AddressRefused(f"{_describe(ip, host)} {why}")


def _refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why ``ip`` is refused (completing "webhook_url points to ..."), or None."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = _refusal(embedded, allow_private)
            return None if inner is None else f"{ip}, which embeds {embedded}: {inner}"
    if ip in METADATA_ADDRESSES:
        return f"a cloud metadata address ({ip}), which is always refused"
    for net, what in _PRIVATE:  # before _NEVER: ::1 lies inside ::/96
        if ip.version == net.version and ip in net:
            return None if allow_private else f"{what} ({ip}); {ALLOW_HINT}"
    for net, what in _NEVER:
        if ip.version == net.version and ip in net:
            return f"{what} ({ip}), which is always refused"
    if not ip.is_global:
        return f"a reserved, non-routable address ({ip}), which is always refused"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 address reaches."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


# ---------------------------------------------------------------- URLs


_HOST_CHARS = re.compile(r"[a-z0-9._-]+")
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a ``webhook_url`` the server must never call (raises ``AddressRefused``)."""
    parsed = _parse(url, allow_private)
    host = parsed.raw_host.decode("ascii").lower()
    if ":" in host:  # an IPv6 literal (httpx strips the brackets)
        try:
            ip6 = ipaddress.IPv6Address(unquote(host))
        except ValueError:
            raise AddressRefused(f"webhook_url host {host!r} is not a valid IPv6 address") from None
        check_ip(ip6, allow_private=allow_private)
        return
    _check_name(host, allow_private)


def _parse(url: str, allow_private: bool) -> httpx.URL:
    """The URL parsed as the push client parses it, with its scheme, credentials, host and
    port checked (AddressRefused)."""
    if not isinstance(url, str):
        raise TypeError(f"check_url needs a str, not {type(url).__name__}")
    if not url:
        raise AddressRefused("webhook_url is empty")
    if _FORBIDDEN_CHARS.search(url):
        raise AddressRefused(
            "webhook_url must not contain spaces, control characters or backslashes"
        )
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        _judge_unparsable(url, allow_private)
        raise AddressRefused(f"webhook_url is not a valid URL: {exc}") from None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https") or "://" not in url:
        shown = f" (got {scheme!r})" if scheme else ""
        raise AddressRefused(f"webhook_url must be an absolute http or https URL{shown}")
    authority = re.split(r"[/?#]", url.split("://", 1)[1], maxsplit=1)[0]
    if parsed.userinfo or "@" in authority:
        raise AddressRefused("webhook_url must not contain credentials (user:password@)")
    host = parsed.raw_host.decode("ascii").lower()
    if not host:
        raise AddressRefused("webhook_url needs a host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise AddressRefused(f"webhook_url has an invalid port ({parsed.port})")
    return parsed


def _check_name(host: str, allow_private: bool) -> None:
    """A host that is not an IPv6 literal: a valid name, judged by the address it spells
    (any IPv4 form), or by the names that are always or privately refused."""
    if "%" in host:
        raise AddressRefused("webhook_url host must not be percent-encoded")
    name = host[:-1] if host.endswith(".") else host
    if not name or not _HOST_CHARS.fullmatch(name) or ".." in name or name.startswith("."):
        raise AddressRefused(f"webhook_url host {host!r} is not a valid host name")
    ip4 = _loose_ipv4(name)
    if ip4 is not None:
        check_ip(ip4, allow_private=allow_private)
        return
    if name in METADATA_HOSTS:
        raise AddressRefused(
            f"webhook_url host {name!r} is a cloud metadata service, which is always refused"
        )
    if not allow_private and (name in LOOPBACK_HOSTS or name.endswith(".localhost")):
        raise AddressRefused(f"webhook_url host {name!r} is a loopback name; {ALLOW_HINT}")


def _judge_unparsable(url: str, allow_private: bool) -> None:
    """Say what a URL httpx cannot parse (``http://0177.0.0.1/``) points to, if it is refused."""
    try:
        host = urlsplit(url).hostname
        ip4 = _loose_ipv4(host.rstrip(".")) if host else None
    except (ValueError, AddressRefused):
        return
    if ip4 is not None:
        check_ip(ip4, allow_private=allow_private)


def _loose_ipv4(name: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host spells, in any form inet_aton or WHATWG URL parsing accept.

    None for a domain name. A host whose last label is a number is an IPv4 address for
    browsers (WHATWG "ends in a number"); if it is not a valid one it is refused.
    """
    parts = name.split(".")
    if _ipv4_part(parts[-1]) is None and not parts[-1].isdigit():
        return None
    numbers = [_ipv4_part(p) for p in parts]
    valid = [n for n in numbers if n is not None]
    if len(parts) > 4 or len(valid) != len(parts) or any(n > 255 for n in valid[:-1]):
        raise AddressRefused(f"webhook_url host {name!r} is not a valid IPv4 address")
    last = valid[-1]
    if last >= 256 ** (5 - len(valid)):
        raise AddressRefused(f"webhook_url host {name!r} is not a valid IPv4 address")
    value = last
    for i, n in enumerate(valid[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _ipv4_part(part: str) -> int | None:
    """One dotted part: decimal, 0x hex or 0-prefixed octal (None if it is not a number)."""
    if _HEX.fullmatch(part):
        return int(part[2:], 16) if len(part) > 2 else 0
    if _OCTAL.fullmatch(part):
        return int(part, 8)
    if _DECIMAL.fullmatch(part):
        return int(part, 10)
    return None


_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_OCTAL = re.compile(r"0[0-7]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
