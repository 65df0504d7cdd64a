//! Which addresses a server may have (SPEC §12): loopback, unspecified, link-local and
//! cloud-metadata addresses reach the machine Convoy runs on or its cloud's metadata
//! service (credentials), not a fleet host, so a tenant naming one is refused unless the
//! operator lists its range in `CONVOY_ALLOWED_NETWORKS`. Pure: the hostname as given is
//! checked when a server is registered, and every resolved address when one is reached
//! (`ssh/connect.rs`), so a DNS name pointing inwards is refused too.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::policy::Policy;

/// The kinds of range a server address may not be in unless allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restricted {
    Loopback,
    /// `0.0.0.0/8` and `::`: Linux connects them to the local machine.
    Unspecified,
    LinkLocal,
    /// A cloud's instance metadata or platform endpoint.
    CloudMetadata,
}

impl fmt::Display for Restricted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Restricted::Loopback => "a loopback address",
            Restricted::Unspecified => "an unspecified (this-host) address",
            Restricted::LinkLocal => "a link-local address",
            Restricted::CloudMetadata => "a cloud metadata address",
        })
    }
}

/// Metadata and platform endpoints outside the link-local range: Alibaba Cloud, Azure's
/// WireServer, Oracle Cloud's legacy one.
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(168, 63, 129, 16),
    Ipv4Addr::new(192, 0, 0, 192),
];

/// AWS, Google Cloud and Akamai (Linode) instance metadata over IPv6.
const METADATA_V6: [Ipv6Addr; 3] = [
    Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254),
    Ipv6Addr::new(0xfd20, 0x00ce, 0, 0, 0, 0, 0, 0x0254),
    Ipv6Addr::new(0xfd00, 0xa9fe, 0xa9fe, 0, 0, 0, 0, 1),
];

/// Names that stand for a restricted address wherever they are resolved: `localhost` and
/// its subdomains (RFC 6761) and Google Cloud's metadata server.
fn restricted_name(hostname: &str) -> Option<(Restricted, IpAddr)> {
    let name = hostname.strip_suffix('.').unwrap_or(hostname);
    let name = name.to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Some((Restricted::Loopback, Ipv4Addr::LOCALHOST.into()));
    }
    if name == "metadata.google.internal" || name == "metadata.goog" {
        return Some((
            Restricted::CloudMetadata,
            Ipv4Addr::new(169, 254, 169, 254).into(),
        ));
    }
    None
}

fn classify_v4(addr: Ipv4Addr) -> Option<Restricted> {
    let [a, b, ..] = addr.octets();
    if addr == Ipv4Addr::new(169, 254, 169, 254) || METADATA_V4.contains(&addr) {
        Some(Restricted::CloudMetadata)
    } else if a == 127 {
        Some(Restricted::Loopback)
    } else if a == 0 {
        Some(Restricted::Unspecified)
    } else if a == 169 && b == 254 {
        Some(Restricted::LinkLocal)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 one carries and a connection to it may end up at: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = addr.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s[..6] {
        [0, 0, 0, 0, 0, 0xffff] | [0, 0, 0, 0, 0, 0] | [0x64, 0xff9b, 0, 0, 0, 0] => Some(low),
        _ => None,
    }
}

/// The restricted range `addr` lies in, if any.
pub fn classify(addr: IpAddr) -> Option<Restricted> {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) if v6.is_loopback() => Some(Restricted::Loopback),
        IpAddr::V6(v6) if v6.is_unspecified() => Some(Restricted::Unspecified),
        IpAddr::V6(v6) if METADATA_V6.contains(&v6) => Some(Restricted::CloudMetadata),
        // fe80::/10
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(Restricted::LinkLocal),
        IpAddr::V6(v6) => embedded_v4(v6).and_then(classify_v4),
    }
}

/// Whether the operator allowed `addr`, in its own form or as the IPv4 address it carries
/// (`::ffff:127.0.0.1` is allowed where `127.0.0.0/8` is).
fn allowed(policy: &Policy, addr: IpAddr) -> bool {
    policy.network_allowed(addr)
        || match addr {
            IpAddr::V6(v6) => embedded_v4(v6).is_some_and(|v4| policy.network_allowed(v4.into())),
            IpAddr::V4(_) => false,
        }
}

/// Ends every refusal's message: what the operator can do about it.
pub const UNLESS_ALLOWED: &str =
    "which servers may not have unless CONVOY_ALLOWED_NETWORKS lists its range";

/// `Err(range)` when `addr` is in a restricted range the policy does not allow.
pub fn check_address(policy: &Policy, addr: IpAddr) -> Result<(), Restricted> {
    match classify(addr) {
        Some(range) if !allowed(policy, addr) => Err(range),
        _ => Ok(()),
    }
}

/// Checks a hostname as given, before any resolution: an IP address (also in the short,
/// octal and hex forms the system resolver accepts, `127.1`, `0x7f000001`) or a name that
/// always means a restricted address. `Err` says why, for the `hostname` field.
pub fn check_hostname(policy: &Policy, hostname: &str) -> Result<(), String> {
    let literal = hostname
        .parse::<IpAddr>()
        .ok()
        .or_else(|| parse_loose_ipv4(hostname).map(IpAddr::V4));
    let (addr, by_name) = match (literal, restricted_name(hostname)) {
        (Some(addr), _) => (addr, false),
        (None, Some((_, addr))) => (addr, true),
        (None, None) => return Ok(()),
    };
    check_address(policy, addr).map_err(|range| {
        let what = if by_name { "names" } else { "is" };
        format!("{what} {range}, {UNLESS_ALLOWED}")
    })
}

/// An IPv4 address in the forms `inet_aton` (and so `getaddrinfo`) reads: one to four
/// parts, each decimal, octal (`0` prefix) or hex (`0x`), the last filling the remaining
/// bytes (`127.1` is 127.0.0.1, `2130706433` too).
pub fn parse_loose_ipv4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        numbers.push(parse_part(part)?);
    }
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|n| *n > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - leading.len() as u32);
    if rest_bits < 32 && *last >= 1u64 << rest_bits {
        return None;
    }
    let value = leading
        .iter()
        .fold(0u64, |acc, n| (acc << 8) | n)
        .checked_shl(rest_bits)?
        | last;
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

fn parse_part(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() && radix != 16 {
        return None;
    }
    if digits.is_empty() {
        // `0x` alone reads as 0, as inet_aton does.
        return Some(0);
    }
    if !digits.chars().all(|c| c.is_digit(radix)) || digits.len() > 11 {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn allowing(nets: &[&str]) -> Policy {
        Policy {
            allowed_networks: nets.iter().map(|n| n.parse().unwrap()).collect(),
            ..Policy::default()
        }
    }

    #[test]
    fn restricted_ranges_are_named() {
        let cases = [
            ("127.0.0.1", Restricted::Loopback),
            ("127.255.0.9", Restricted::Loopback),
            ("::1", Restricted::Loopback),
            ("::ffff:127.0.0.1", Restricted::Loopback),
            ("64:ff9b::7f00:1", Restricted::Loopback),
            ("0.0.0.0", Restricted::Unspecified),
            ("0.1.2.3", Restricted::Unspecified),
            ("::", Restricted::Unspecified),
            ("169.254.0.1", Restricted::LinkLocal),
            ("fe80::1", Restricted::LinkLocal),
            ("febf::1", Restricted::LinkLocal),
            ("::ffff:169.254.1.1", Restricted::LinkLocal),
            ("169.254.169.254", Restricted::CloudMetadata),
            ("::ffff:169.254.169.254", Restricted::CloudMetadata),
            ("fd00:ec2::254", Restricted::CloudMetadata),
            ("fd20:ce::254", Restricted::CloudMetadata),
            ("fd00:a9fe:a9fe::1", Restricted::CloudMetadata),
            ("100.100.100.200", Restricted::CloudMetadata),
            ("168.63.129.16", Restricted::CloudMetadata),
            ("192.0.0.192", Restricted::CloudMetadata),
        ];
        for (addr, range) in cases {
            assert_eq!(classify(ip(addr)), Some(range), "{addr}");
        }
    }

    #[test]
    fn ordinary_addresses_are_not_restricted() {
        for addr in [
            "10.77.0.11",
            "192.168.1.1",
            "172.16.0.1",
            "100.100.100.201",
            "1.1.1.1",
            "fd00:ec2::253",
            "fec0::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(classify(ip(addr)), None, "{addr}");
        }
    }

    #[test]
    fn an_allowed_range_lifts_the_refusal_and_nothing_else() {
        let policy = allowing(&["127.0.0.0/8"]);
        assert_eq!(check_address(&policy, ip("127.0.0.1")), Ok(()));
        assert_eq!(check_address(&policy, ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(check_address(&policy, ip("::1")), Err(Restricted::Loopback));
        assert_eq!(
            check_address(&policy, ip("169.254.169.254")),
            Err(Restricted::CloudMetadata)
        );
        assert_eq!(
            check_address(&Policy::default(), ip("127.0.0.1")),
            Err(Restricted::Loopback)
        );
        assert_eq!(check_address(&Policy::default(), ip("10.0.0.1")), Ok(()));
    }

    #[test]
    fn hostnames_are_checked_as_given() {
        let strict = Policy::default();
        for refused in [
            "127.0.0.1",
            "::1",
            "::ffff:127.0.0.1",
            "169.254.169.254",
            "localhost",
            "LOCALHOST.",
            "app.localhost",
            "metadata.google.internal",
            "127.1",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "0",
        ] {
            let err = check_hostname(&strict, refused).unwrap_err();
            assert!(err.contains("CONVOY_ALLOWED_NETWORKS"), "{refused}: {err}");
        }
        for fine in [
            "web-1.example.com",
            "10.77.0.11",
            "localhost-1.example",
            "1.2.3.4",
        ] {
            assert_eq!(check_hostname(&strict, fine), Ok(()), "{fine}");
        }
        let loopback = allowing(&["127.0.0.0/8"]);
        for allowed in ["127.0.0.1", "::ffff:127.0.0.1", "localhost", "127.1"] {
            assert_eq!(check_hostname(&loopback, allowed), Ok(()), "{allowed}");
        }
        assert_eq!(
            check_hostname(&strict, "localhost").unwrap_err(),
            "names a loopback address, which servers may not have unless CONVOY_ALLOWED_NETWORKS lists its range"
        );
    }

    #[test]
    fn loose_ipv4_forms_read_as_the_resolver_reads_them() {
        let v4 = |s: &str| parse_loose_ipv4(s);
        assert_eq!(v4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(v4("2130706433"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(v4("0x7f.0.0.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(v4("0177.0.0.01"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(v4("169.254.43518"), Some(Ipv4Addr::new(169, 254, 169, 254)));
        assert_eq!(v4("10.77.0.11"), Some(Ipv4Addr::new(10, 77, 0, 11)));
        for not in [
            "",
            "1.2.3.4.5",
            "256.1",
            "1.2.3.256",
            "08",
            "web",
            "1..2",
            "4294967296",
        ] {
            assert_eq!(v4(not), None, "{not}");
        }
    }
}
