"""Constellations, product-id slicing, dates, placeholders and AutoFill (spec §1.3, §3.1)."""

from __future__ import annotations

import datetime as dt

import pytest

from libs.domain import products
from libs.domain.products import Constellation

# Real product names (shared/fixtures/realdata and the reference's documentation).
S2 = "S2A_MSIL1C_20210908T042701_N0301_R133_T46RER_20210908T070248"
S2_DEMO = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"
S2_LEGACY = "S2A_OPER_PRD_MSIL1C_PDMC_20160128T143531_R008_V20160126T103342_20160126T103342"
S1 = "S1B_IW_SLC__1SDV_20190825T170029_20190825T170057_017745_02163A_DA7E"
L8 = "LC08_L2SP_047027_20201204_20210313_02_T1"
L9 = "LC09_L2SP_010065_20220129_20220131_02_T1"
PHR = "DS_PHR1A_201706161037358_FR1_PX_E001N43_0612_06488"
SPOT = "DS_SPOT7_201806232333247_FR1_FR1_SV1_SV1_E044N44_02209"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sentinel1", Constellation.SENTINEL1),
        ("Sentinel-1", Constellation.SENTINEL1),
        ("SENTINEL2", Constellation.SENTINEL2),
        ("sentinel-2", Constellation.SENTINEL2),
        ("Landsat89", Constellation.LANDSAT89),
        ("pleiades", Constellation.PHR),
        ("PHR", Constellation.PHR),
        ("Spot", Constellation.SPOT),
        ("S1", Constellation.SENTINEL1),
        ("S2xxx", Constellation.SENTINEL2),
        ("LC08", Constellation.LANDSAT89),
        ("LO09", Constellation.LANDSAT89),
        ("landsat", Constellation.UNKNOWN),
        ("s2", Constellation.UNKNOWN),  # the id rules are case-sensitive and apply to the original text
        ("LC07", Constellation.UNKNOWN),
        ("", Constellation.UNKNOWN),
    ],
)
def test_parse_constellation(value: str, expected: Constellation) -> None:
    assert products.parse_constellation(value) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (S1, Constellation.SENTINEL1),
        (S2, Constellation.SENTINEL2),
        (PHR, Constellation.PHR),
        (SPOT, Constellation.SPOT),
        (L8, Constellation.LANDSAT89),
        (L9, Constellation.LANDSAT89),
        ("sentinel2", Constellation.UNKNOWN),
        ("LE07_L1TP_047027_20201204_20210313_02_T1", Constellation.UNKNOWN),
    ],
)
def test_constellation_from_product_id(name: str, expected: Constellation) -> None:
    assert products.constellation_from_product_id(name) is expected


def test_sentinel2_info_modern() -> None:
    info = products.product_info(S2_DEMO)
    assert info == {
        "SCENE": S2_DEMO, "MISSION_ID": "S2A", "MISSION_VERSION": "A", "PRODUCT_LEVEL": "L1C",
        "DATE": "20220104", "YEAR": "2022", "MONTH": "01", "DAY": "04",
        "TIME": "103421", "HOUR": "10", "MINUTE": "34", "SECOND": "21",
        "PDGS": "0301", "ORBIT": "108", "TILE": "T32UNF", "LATITUDE_BAND": "32",
        "GRID_SQUARE": "U", "GRANULE_ID": "NF", "PRODUCT_DISC": "20220104T123507",
    }  # fmt: skip
    assert products.product_info(S2)["TILE"] == "T46RER"


def test_sentinel2_info_legacy_and_short() -> None:
    # Character 10 is not "_": legacy naming, no date keys.
    assert products.product_info(S2_LEGACY) == {
        "SCENE": S2_LEGACY, "MISSION_ID": "S2A", "PRODUCT_LEVEL": "L1C", "ORBIT": "008"
    }  # fmt: skip
    # The real folder name of the 01LAC fixture lacks the baseline: 55 characters, too short.
    short = "S2A_MSIL1C_20200717T221941_R029_T01LAC_20200717T234135"
    with pytest.raises(products.ProductIdError, match=f"^invalid Sentinel2 file name: {short}$"):
        products.product_info(short)
    legacy_short = S2_LEGACY[:70]
    with pytest.raises(products.ProductIdError, match=r"^invalid Sentinel2 file name: "):
        products.product_info(legacy_short)


def test_sentinel1_info() -> None:
    info = products.product_info(S1)
    assert info["SCENE"] == S1
    assert (info["MISSION_ID"], info["MISSION_VERSION"], info["MODE"], info["PRODUCT_TYPE"]) == (
        "S1B",
        "B",
        "IW",
        "SLC",
    )
    assert (info["RESOLUTION"], info["PROCESSING_LEVEL"], info["PRODUCT_CLASS"], info["POLARISATION"]) == (
        "_", "1", "S", "DV"
    )  # fmt: skip
    assert (info["DATE"], info["TIME"], info["ORBIT"], info["MISSION"], info["UNIQUE_ID"]) == (
        "20190825", "170029", "017745", "02163A", "DA7E"
    )  # fmt: skip
    with pytest.raises(products.ProductIdError, match=r"^invalid Sentinel1 file name: S1B_IW$"):
        products.product_info("S1B_IW")


def test_landsat_info() -> None:
    info = products.product_info(L9)
    assert info == {
        "MISSION_ID": "L09", "COLLECTION": "oli-tirs", "DATE": "20220129", "YEAR": "2022", "MONTH": "01",
        "DAY": "29", "PATH": "010", "ROW": "065",
    }  # fmt: skip
    assert "SCENE" not in info
    assert products.product_info("LO" + L8[2:])["COLLECTION"] == "oli"
    assert products.product_info("LT" + L8[2:])["COLLECTION"] == "tirs"
    with pytest.raises(products.ProductIdError, match=r"^invalid Landsat8/9 file name: LC08_L2SP$"):
        products.product_info("LC08_L2SP")


def test_airbus_info() -> None:
    phr = products.product_info(PHR)
    assert "SCENE" not in phr
    assert (phr["MISSION_ID"], phr["DATE"], phr["YEAR"], phr["TIME"]) == (
        "PHR1A",
        "20170616103735",
        "2017",
        "103735",
    )
    spot = products.product_info(SPOT)
    assert (spot["SCENE"], spot["MISSION_ID"], spot["SAT_NUMBER"], spot["DAY"]) == (SPOT, "SPOT7", "7", "23")
    with pytest.raises(products.ProductIdError, match=r"^invalid Pleiades file name: DS_PHR1A$"):
        products.product_info("DS_PHR1A")
    with pytest.raises(products.ProductIdError, match=r"^invalid Spot file name: DS_SPOT7$"):
        products.product_info("DS_SPOT7")


def test_info_unsupported() -> None:
    with pytest.raises(products.ProductIdError, match=r"^Info: constellation not supported$"):
        products.product_info("LE07_L1TP_047027_20201204_20210313_02_T1")


def test_date_from_product_id() -> None:
    assert products.date_from_product_id(S2_DEMO) == dt.date(2022, 1, 4)
    assert products.date_from_product_id(S1) == dt.date(2019, 8, 25)
    assert products.date_from_product_id(L8) == dt.date(2020, 12, 4)
    assert products.date_from_product_id(PHR) == dt.date(2017, 6, 16)
    with pytest.raises(ValueError):
        products.date_from_product_id(S2_LEGACY)  # no date keys in a legacy name
    with pytest.raises(products.ProductIdError):
        products.date_from_product_id("unknown")
    # Digits that do not form a day, and characters that are not ASCII digits, are no date either.
    for bad_date in ("20220230", "2022011x", "２０２２0104"):
        with pytest.raises(ValueError):
            products.date_from_product_id(S2_DEMO.replace("20220104", bad_date, 1))


def test_format_brackets() -> None:
    info = products.product_info(S2_DEMO)
    url = "gs://bucket/{AREA}/{YEAR}/{MONTH}/{DAY}/{SCENE}.zip?tile={TILE}&x={UNKNOWN}"
    assert products.format_brackets(url, info, {"AREA": "Denmark"}) == (
        f"gs://bucket/Denmark/2022/01/04/{S2_DEMO}.zip?tile=T32UNF&x={{UNKNOWN}}"
    )
    assert products.format_brackets("{A}{A}", {"A": "x"}) == "xx"
    assert products.format_brackets("{A}") == "{A}"


def test_autofill() -> None:
    tags, name = products.autofill_tags(S2)
    assert tags == {"constellation": "SENTINEL2", "satellite": "SENTINEL2A"}
    assert name == "S2A_MSIL1C_20210908T042701_NXXYY_R133_T46RER_20210908T070248"
    tags, name = products.autofill_tags(S1)
    assert tags == {"constellation": "SENTINEL1", "satellite": "SENTINEL1B"}
    assert name == S1[:63]
    tags, name = products.autofill_tags(L9)
    assert tags == {"constellation": "LANDSAT", "satellite": "LANDSAT09"}
    assert name == L9
    assert products.autofill_tags(PHR) == ({}, "")
