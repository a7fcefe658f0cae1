"""The XML documents of a Sentinel-2 L1C `.SAFE` product (PSD 14 layout), filled for a demo product.

Modelled on real products (see shared/fixtures/realdata/sentinel2): the element names, nesting and value
formats are the ones ESA writes and that readers (ours, stactools, sen2cor) look for. Bulky parts that no
reader of the demo needs (spectral response curves, the GIPP list, viewing angle grids) are left out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from xml.sax.saxutils import escape, quoteattr

# (band, nominal resolution in metres, manifest data-object id, central wavelength nm, solar irradiance)
BANDS: tuple[tuple[str, int, str, float, float], ...] = (
    ("B01", 60, "60m_1", 442.7, 1884.69),
    ("B02", 10, "10m_1", 492.7, 1959.66),
    ("B03", 10, "10m_2", 559.8, 1823.24),
    ("B04", 10, "10m_3", 664.6, 1512.06),
    ("B05", 20, "20m_1", 704.1, 1424.64),
    ("B06", 20, "20m_2", 740.5, 1287.61),
    ("B07", 20, "20m_3", 782.8, 1162.08),
    ("B08", 10, "10m_4", 832.8, 1041.63),
    ("B8A", 20, "20m_4", 864.7, 955.32),
    ("B09", 60, "60m_2", 945.1, 812.92),
    ("B10", 60, "60m_3", 1373.5, 367.15),
    ("B11", 20, "20m_5", 1613.7, 245.59),
    ("B12", 20, "20m_6", 2202.4, 85.25),
)


@dataclasses.dataclass(frozen=True)
class ProductFacts:
    """What the XML documents say about one product."""

    source_id: str
    satellite: str  # "S2A" / "S2B"
    sensing: dt.datetime  # datatake sensing start (UTC)
    generation: dt.datetime  # processing time, also the product discriminator
    relative_orbit: int
    absolute_orbit: int
    tile: str  # "32UNF"
    epsg: int
    ulx: float
    uly: float
    pixel_size: float
    band_size: int
    footprint_latlon: tuple[tuple[float, float], ...]  # closed ring of (lat, lon)
    cloud_cover: float
    baseline: str = "03.01"

    @property
    def granule(self) -> str:
        return f"L1C_T{self.tile}_A{self.absolute_orbit:06d}_{_compact(self.sensing)}"

    @property
    def datastrip(self) -> str:
        return f"DS_2APS_{_compact(self.generation)}_S{_compact(self.sensing)}"

    def image_file(self, band: str) -> str:
        """Path of a band inside the .SAFE folder, without the .jp2 extension (as the MTD lists it)."""
        return f"GRANULE/{self.granule}/IMG_DATA/T{self.tile}_{_compact(self.sensing)}_{band}"


def _compact(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _iso_ms(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _ids(f: ProductFacts) -> tuple[str, str, str]:
    baseline = f"N{f.baseline}"
    datatake = f"G{f.satellite}_{_compact(f.sensing)}_{f.absolute_orbit:06d}_{baseline}"
    datastrip = f"{f.satellite}_OPER_MSI_L1C_{f.datastrip}_{baseline}"
    tile = f"{f.satellite}_OPER_MSI_L1C_TL_2APS_{_compact(f.generation)}_A{f.absolute_orbit:06d}_T{f.tile}_{baseline}"
    return datatake, datastrip, tile


def _sun_distance_factor(day: dt.date) -> float:
    """ESA's U: (1 / Earth-Sun distance in AU)^2, from the day of the year."""
    return 1 / (1 - 0.01672 * math.cos(math.radians(0.9856 * (day.timetuple().tm_yday - 4)))) ** 2


def product_mtd(f: ProductFacts) -> bytes:
    datatake, datastrip, tile = _ids(f)
    images = "\n".join(f"            <IMAGE_FILE>{f.image_file(band)}</IMAGE_FILE>" for band, *_ in BANDS)
    irradiance = "\n".join(
        f'          <SOLAR_IRRADIANCE bandId="{i}" unit="W/m²/µm">{e}</SOLAR_IRRADIANCE>'
        for i, (*_, e) in enumerate(BANDS)
    )
    spectral = "\n".join(
        f'        <Spectral_Information bandId="{i}" physicalBand="{band.replace("B0", "B")}">\n'
        f"          <RESOLUTION>{resolution}</RESOLUTION>\n"
        f'          <Wavelength><CENTRAL unit="nm">{central}</CENTRAL></Wavelength>\n'
        f"        </Spectral_Information>"
        for i, (band, resolution, _, central, _) in enumerate(BANDS)
    )
    footprint = " ".join(f"{lat!r} {lon!r}" for lat, lon in f.footprint_latlon)
    start = _iso_ms(f.sensing)
    text = f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:Level-1C_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd">
    <n1:General_Info>
        <Product_Info>
            <PRODUCT_START_TIME>{start}</PRODUCT_START_TIME>
            <PRODUCT_STOP_TIME>{start}</PRODUCT_STOP_TIME>
            <PRODUCT_URI>{f.source_id}.SAFE</PRODUCT_URI>
            <PROCESSING_LEVEL>Level-1C</PROCESSING_LEVEL>
            <PRODUCT_TYPE>S2MSI1C</PRODUCT_TYPE>
            <PROCESSING_BASELINE>{f.baseline}</PROCESSING_BASELINE>
            <GENERATION_TIME>{f.generation.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}</GENERATION_TIME>
            <PREVIEW_IMAGE_URL>Not applicable</PREVIEW_IMAGE_URL>
            <PREVIEW_GEO_INFO>Not applicable</PREVIEW_GEO_INFO>
            <Datatake datatakeIdentifier="{datatake}">
                <SPACECRAFT_NAME>Sentinel-2{f.satellite[-1]}</SPACECRAFT_NAME>
                <DATATAKE_TYPE>INS-NOBS</DATATAKE_TYPE>
                <DATATAKE_SENSING_START>{start}</DATATAKE_SENSING_START>
                <SENSING_ORBIT_NUMBER>{f.relative_orbit}</SENSING_ORBIT_NUMBER>
                <SENSING_ORBIT_DIRECTION>DESCENDING</SENSING_ORBIT_DIRECTION>
            </Datatake>
            <Query_Options completeSingleTile="true">
                <PRODUCT_FORMAT>SAFE_COMPACT</PRODUCT_FORMAT>
            </Query_Options>
            <Product_Organisation>
                <Granule_List>
        <Granule datastripIdentifier="{datastrip}" granuleIdentifier="{tile}" imageFormat="JPEG2000">
{images}
        </Granule>
                </Granule_List>
            </Product_Organisation>
        </Product_Info>
        <Product_Image_Characteristics>
            <Special_Values>
                <SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>
                <SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX>
            </Special_Values>
            <Special_Values>
                <SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT>
                <SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX>
            </Special_Values>
            <Image_Display_Order>
                <RED_CHANNEL>3</RED_CHANNEL>
                <GREEN_CHANNEL>2</GREEN_CHANNEL>
                <BLUE_CHANNEL>1</BLUE_CHANNEL>
            </Image_Display_Order>
            <QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>
            <Reflectance_Conversion>
        <U>{_sun_distance_factor(f.sensing.date())!r}</U>
        <Solar_Irradiance_List>
{irradiance}
        </Solar_Irradiance_List>
            </Reflectance_Conversion>
            <Spectral_Information_List>
{spectral}
            </Spectral_Information_List>
            <REFERENCE_BAND>3</REFERENCE_BAND>
        </Product_Image_Characteristics>
    </n1:General_Info>
    <n1:Geometric_Info>
        <Product_Footprint>
            <Product_Footprint>
                <Global_Footprint>
                    <EXT_POS_LIST>{footprint} </EXT_POS_LIST>
                </Global_Footprint>
            </Product_Footprint>
            <RASTER_CS_TYPE>POINT</RASTER_CS_TYPE>
            <PIXEL_ORIGIN>1</PIXEL_ORIGIN>
        </Product_Footprint>
        <Coordinate_Reference_System>
            <GEO_TABLES version="1">EPSG</GEO_TABLES>
            <HORIZONTAL_CS_TYPE>GEOGRAPHIC</HORIZONTAL_CS_TYPE>
        </Coordinate_Reference_System>
    </n1:Geometric_Info>
    <n1:Auxiliary_Data_Info>
        <PRODUCTION_DEM_TYPE>S2__OPER_DEM_GLOBEF_PDMC_19800101T000000_S19800101T000000</PRODUCTION_DEM_TYPE>
    </n1:Auxiliary_Data_Info>
    <n1:Quality_Indicators_Info>
        <Cloud_Coverage_Assessment>{f.cloud_cover}</Cloud_Coverage_Assessment>
        <Technical_Quality_Assessment>
            <DEGRADED_ANC_DATA_PERCENTAGE>0.0</DEGRADED_ANC_DATA_PERCENTAGE>
            <DEGRADED_MSI_DATA_PERCENTAGE>0</DEGRADED_MSI_DATA_PERCENTAGE>
        </Technical_Quality_Assessment>
        <Quality_Control_Checks>
            <Quality_Inspections>
                <quality_check checkType="FORMAT_CORRECTNESS">PASSED</quality_check>
                <quality_check checkType="GENERAL_QUALITY">PASSED</quality_check>
                <quality_check checkType="GEOMETRIC_QUALITY">PASSED</quality_check>
                <quality_check checkType="RADIOMETRIC_QUALITY">PASSED</quality_check>
                <quality_check checkType="SENSOR_QUALITY">PASSED</quality_check>
            </Quality_Inspections>
            <Failed_Inspections/>
        </Quality_Control_Checks>
    </n1:Quality_Indicators_Info>
</n1:Level-1C_User_Product>
"""
    return text.encode("utf-8")


def tile_mtd(f: ProductFacts) -> bytes:
    _, datastrip, tile = _ids(f)
    geocoding = "\n".join(
        f'            <Size resolution="{r}"><NROWS>{f.band_size}</NROWS><NCOLS>{f.band_size}</NCOLS></Size>'
        for r in (10, 20, 60)
    )
    text = f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:Level-1C_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd">
    <n1:General_Info>
        <TILE_ID metadataLevel="Brief">{tile}</TILE_ID>
        <DATASTRIP_ID metadataLevel="Standard">{datastrip}</DATASTRIP_ID>
        <DOWNLINK_PRIORITY metadataLevel="Standard">NOMINAL</DOWNLINK_PRIORITY>
        <SENSING_TIME metadataLevel="Standard">{_iso_ms(f.sensing)}</SENSING_TIME>
        <Archiving_Info metadataLevel="Expertise">
            <ARCHIVING_CENTRE>2APS</ARCHIVING_CENTRE>
            <ARCHIVING_TIME>{_iso_ms(f.generation)}</ARCHIVING_TIME>
        </Archiving_Info>
    </n1:General_Info>
    <n1:Geometric_Info>
        <Tile_Geocoding metadataLevel="Brief">
            <HORIZONTAL_CS_NAME>WGS84 / UTM zone {f.epsg % 100}N</HORIZONTAL_CS_NAME>
            <HORIZONTAL_CS_CODE>EPSG:{f.epsg}</HORIZONTAL_CS_CODE>
{geocoding}
            <Geoposition resolution="10">
                <ULX>{f.ulx:g}</ULX>
                <ULY>{f.uly:g}</ULY>
                <XDIM>{f.pixel_size!r}</XDIM>
                <YDIM>{-f.pixel_size!r}</YDIM>
            </Geoposition>
        </Tile_Geocoding>
    </n1:Geometric_Info>
    <n1:Quality_Indicators_Info metadataLevel="Standard">
        <Image_Content_QI>
            <CLOUDY_PIXEL_PERCENTAGE>{f.cloud_cover}</CLOUDY_PIXEL_PERCENTAGE>
            <DEGRADED_MSI_DATA_PERCENTAGE>0</DEGRADED_MSI_DATA_PERCENTAGE>
        </Image_Content_QI>
    </n1:Quality_Indicators_Info>
</n1:Level-1C_Tile_ID>
"""
    return text.encode("utf-8")


def manifest(f: ProductFacts, files: list[tuple[str, int, str]]) -> bytes:
    """The SAFE manifest listing `files` as (path relative to the .SAFE folder, size, SHA3-256 hex)."""
    objects = []
    for path, size, digest in files:
        band = next((b for b in BANDS if path.endswith(f"_{b[0]}.jp2")), None)
        object_id = (
            f"IMG_DATA_Band_{band[2]}_Tile1_Data" if band else path.replace("/", "_").replace(".", "_")
        )
        mime = "application/octet-stream" if path.endswith(".jp2") else "text/xml"
        objects.append(
            f"        <dataObject ID={quoteattr(object_id)}>\n"
            f'            <byteStream mimeType="{mime}" size="{size}">\n'
            f'                <fileLocation href={quoteattr("./" + path)} locatorType="URL"/>\n'
            f'                <checksum checksumName="SHA3-256">{digest}</checksum>\n'
            f"            </byteStream>\n        </dataObject>"
        )
    coordinates = " ".join(f"{lat!r} {lon!r}" for lat, lon in f.footprint_latlon)
    text = f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<xfdu:XFDU xmlns:gml="http://www.opengis.net/gml" xmlns:safe="http://www.esa.int/safe/sentinel/1.1" xmlns:xfdu="urn:ccsds:schema:xfdu:1" version="esa/safe/sentinel/1.1/sentinel-2/msi/archive_l1c_user_product">
    <informationPackageMap>
        <xfdu:contentUnit dmdID="acquisitionPeriod platform" pdiID="processing" textInfo="SENTINEL-2 MSI Level-1C User Product" unitType="Product_Level-1C"/>
    </informationPackageMap>
    <metadataSection>
        <metadataObject ID="acquisitionPeriod" category="DMD" classification="DESCRIPTION">
            <metadataWrap mimeType="text/xml" textInfo="Acquisition Period" vocabularyName="Sentinel-SAFE"><xmlData>
                <safe:acquisitionPeriod><safe:startTime>{_iso_ms(f.sensing)}</safe:startTime></safe:acquisitionPeriod>
            </xmlData></metadataWrap>
        </metadataObject>
        <metadataObject ID="measurementOrbitReference" category="DMD" classification="DESCRIPTION">
            <metadataWrap mimeType="text/xml" textInfo="Orbit Reference" vocabularyName="Sentinel-SAFE"><xmlData>
                <safe:orbitReference>
                    <safe:orbitNumber groundTrackDirection="descending" type="start">{f.absolute_orbit:06d}</safe:orbitNumber>
                    <safe:relativeOrbitNumber type="start">{f.relative_orbit}</safe:relativeOrbitNumber>
                </safe:orbitReference>
            </xmlData></metadataWrap>
        </metadataObject>
        <metadataObject ID="platform" category="DMD" classification="DESCRIPTION">
            <metadataWrap mimeType="text/xml" textInfo="Platform Description" vocabularyName="Sentinel-SAFE"><xmlData>
                <safe:platform>
                    <safe:familyName>SENTINEL</safe:familyName>
                    <safe:number>{f.satellite[1:]}</safe:number>
                    <safe:instrument><safe:familyName abbreviation="MSI">Multi-Spectral Instrument</safe:familyName></safe:instrument>
                </safe:platform>
            </xmlData></metadataWrap>
        </metadataObject>
        <metadataObject ID="measurementFrameSet" category="DMD" classification="DESCRIPTION">
            <metadataWrap mimeType="text/xml" textInfo="Frame Set" vocabularyName="Sentinel-SAFE"><xmlData>
                <safe:frameSet><safe:footPrint srsName="http://www.opengis.net/gml/srs/epsg.xml#4326">
                    <gml:coordinates>{escape(coordinates)} </gml:coordinates>
                </safe:footPrint></safe:frameSet>
            </xmlData></metadataWrap>
        </metadataObject>
    </metadataSection>
    <dataObjectSection>
{chr(10).join(objects)}
    </dataObjectSection>
</xfdu:XFDU>
"""
    return text.encode("utf-8")
