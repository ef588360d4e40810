"""The Indonesian translation: complete, compiled, current, and used by every page and by DOKU."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.urls import reverse
from django.utils import translation

from django_doku_checkout import services

PACKAGE = Path(__file__).parents[1] / "django_doku_checkout"
PO = PACKAGE / "locale" / "id" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def translations(catalog: polib.POFile | polib.MOFile) -> dict[str, str]:
    return {
        entry.msgid: entry.msgstr or entry.msgstr_plural.get(0, "")
        for entry in catalog
        if entry.msgid and not entry.obsolete
    }


def test_every_message_is_translated():
    po = polib.pofile(str(PO))
    assert po.percent_translated() == 100
    assert not po.fuzzy_entries()
    assert len(po) > 150


def test_the_compiled_catalog_matches_the_source():
    assert translations(polib.mofile(str(MO))) == translations(polib.pofile(str(PO)))


def test_the_catalog_holds_every_marked_string(tmp_path):
    """makemessages on a copy of the package finds nothing the shipped catalog lacks."""
    copy = tmp_path / "django_doku_checkout"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(  # noqa: S603 - Django's own command on our copy
        [sys.executable, "-m", "django", "makemessages", "-l", "id", "--ignore", "simulator/*", "--no-obsolete"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    extracted = set(translations(polib.pofile(str(copy / "locale" / "id" / "LC_MESSAGES" / "django.po"))))
    assert extracted == set(translations(polib.pofile(str(PO))))


@pytest.mark.django_db
def test_shopper_pages_follow_the_active_language(client, order_factory, doku_simulator, settings):
    settings.LANGUAGE_CODE = "id"
    order = order_factory()
    doku_simulator.pay(order)
    page = client.get(reverse("doku_checkout:return", args=[order.public_id])).content.decode()
    assert "Terima kasih! Pembayaran Anda sudah kami terima." in page
    assert ">Lunas</span>" in page
    assert '<html lang="id">' in page
    waiting = order_factory()
    page = client.get(reverse("doku_checkout:cancel", args=[waiting.public_id])).content.decode()
    assert "Bayar dengan DOKU" in page
    assert "Anda meninggalkan halaman pembayaran" in page


@pytest.mark.django_db
def test_dokus_page_language_follows_the_active_language(order_factory, doku_simulator):
    with translation.override("id"):
        indonesian = services.create_payment_link(order_factory())
    with translation.override("en"):
        english = services.create_payment_link(order_factory())
    assert indonesian.request_body["order"]["language"] == "ID"
    assert english.request_body["order"]["language"] == "EN"


@pytest.mark.django_db
def test_the_admin_speaks_indonesian(admin_client, order_factory, doku_simulator, settings):
    settings.LANGUAGE_CODE = "id"
    order = order_factory()
    services.create_payment_link(order)
    changelist = admin_client.get(reverse("admin:django_doku_checkout_order_changelist")).content.decode()
    assert "Buat tautan pembayaran DOKU" in changelist
    assert "Menunggu pembayaran" in changelist
    page = admin_client.get(reverse("admin:django_doku_checkout_order_change", args=[order.pk])).content.decode()
    assert "Salin tautan" in page
    assert "Tautan pembayaran" in page
    assert "Riwayat" in page


def test_why_an_order_cannot_be_paid_is_said_in_the_active_language(order_factory):
    order = order_factory(status="paid")
    with translation.override("id"), pytest.raises(services.OrderNotPayable) as refused:
        services.create_payment_link(order)
    assert str(refused.value) == f"Pesanan {order.invoice_number} berstatus lunas."
