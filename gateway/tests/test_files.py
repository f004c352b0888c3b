"""A downloaded file's name cannot break out of its header."""

from __future__ import annotations

import pytest

from crm_gateway.routes.files import content_disposition

pytestmark = pytest.mark.unit


class TestContentDisposition:
    def test_quotes_and_line_breaks_never_reach_the_header(self) -> None:
        header = content_disposition('re"port\r\n.pdf')

        assert header.startswith('attachment; filename="re_port__.pdf";')
        assert "\r" not in header
        assert "\n" not in header
        assert header.endswith("filename*=UTF-8''re%22port%0D%0A.pdf")

    def test_a_non_ascii_name_keeps_its_exact_form_encoded(self) -> None:
        header = content_disposition("résumé.pdf")

        assert 'filename="r_sum_.pdf"' in header
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf" in header
