"""SSRF: only HTTPS URLs of public addresses may be subscribed."""

from __future__ import annotations

import ipaddress

import pytest

from crm_kit.errors import InvalidArgument
from crm_messaging.webhooks.addresses import check_destination, check_url, is_allowed

pytestmark = pytest.mark.unit


class TestUrlShape:
    @pytest.mark.parametrize(
        ("url", "code"),
        [
            ("http://example.com/hook", "https_required"),
            ("ftp://example.com/hook", "https_required"),
            ("https://user:pw@example.com/hook", "url_credentials"),
            ("https://user@example.com/hook", "url_credentials"),
            ("https:///hook", "invalid_url"),
            ("https://example.com:99999/", "invalid_url"),
        ],
    )
    def test_refused(self, url: str, code: str) -> None:
        with pytest.raises(InvalidArgument) as refused:
            check_url(url)
        assert refused.value.code == code

    def test_https_is_accepted(self) -> None:
        assert check_url("https://hooks.example.com/in?x=1") == "https://hooks.example.com/in?x=1"


class TestAddresses:
    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ],
    )
    def test_non_public_addresses_are_forbidden(self, address: str) -> None:
        assert not is_allowed(ipaddress.ip_address(address), ())

    def test_public_addresses_and_allowlisted_networks_are_allowed(self) -> None:
        assert is_allowed(ipaddress.ip_address("93.184.216.34"), ())
        allowed = (ipaddress.ip_network("127.0.0.0/8"),)
        assert is_allowed(ipaddress.ip_address("127.0.0.1"), allowed)
        assert not is_allowed(ipaddress.ip_address("10.0.0.1"), allowed)

    @pytest.mark.parametrize(
        "url",
        [
            "https://127.0.0.1/hook",
            "https://localhost:8443/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/hook",
        ],
    )
    async def test_subscribing_a_private_destination_is_refused(self, url: str) -> None:
        with pytest.raises(InvalidArgument) as refused:
            await check_destination(url, ())
        assert refused.value.code == "forbidden_address"

    async def test_an_unresolvable_host_is_refused(self) -> None:
        with pytest.raises(InvalidArgument) as refused:
            await check_destination("https://no-such-host.invalid/hook", ())
        assert refused.value.code == "unresolvable_host"
