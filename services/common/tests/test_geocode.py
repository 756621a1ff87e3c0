"""The offline address resolver against the packaged table: real addresses from every part of the
country, names several divisions share, short forms, refusals, and every district of the table."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.geocode import AddressNotResolved, Division, Gazetteer, gazetteer, resolve, short_forms

NEAR_KM = 3.0  # the expected centres below are the table's, rounded to 0.01°


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(a))


ADDRESSES = [  # address, adcode, precision, lat, lon of the division's centre
    # names several divisions share, settled by the province or city in the text
    ("浙江省杭州市西湖区文三路90号", "330106", "district", 30.26, 120.13),
    ("杭州市西湖区文三路90号", "330106", "district", 30.26, 120.13),
    ("江西省南昌市西湖区八一大道", "360103", "district", 28.66, 115.88),
    ("南昌市西湖区", "360103", "district", 28.66, 115.88),
    ("北京市朝阳区建国路88号", "110105", "district", 39.92, 116.44),
    ("北京朝阳区三里屯路19号", "110105", "district", 39.92, 116.44),
    ("吉林省长春市朝阳区人民大街", "220104", "district", 43.83, 125.29),
    ("长春市朝阳区", "220104", "district", 43.83, 125.29),
    ("江苏省南京市鼓楼区中山路321号", "320106", "district", 32.07, 118.77),
    ("福建省福州市鼓楼区五四路", "350102", "district", 26.08, 119.30),
    ("徐州市鼓楼区", "320302", "district", 34.29, 117.19),
    ("河南省开封市鼓楼区", "410204", "district", 34.79, 114.35),
    ("山东省济南市市中区", "370103", "district", 36.65, 117.00),
    ("济南市中区经七路", "370103", "district", 36.65, 117.00),  # 济南 + 市中区: the 市 is shared
    ("山东青岛市南区香港中路", "370202", "district", 36.08, 120.41),
    ("辽宁省沈阳市和平区", "210102", "district", 41.79, 123.42),
    ("天津市和平区南京路", "120101", "district", 39.12, 117.21),
    ("河北省石家庄市长安区", "130102", "district", 38.04, 114.54),
    # 自治区, 自治州, 县级市 and their short forms
    ("新疆维吾尔自治区乌鲁木齐市天山区", "650102", "district", 43.79, 87.63),
    ("吉林省延边朝鲜族自治州延吉市", "222401", "district", 42.89, 129.51),
    ("延边州延吉市", "222401", "district", 42.89, 129.51),
    ("江苏省苏州市昆山市玉山镇", "320583", "district", 31.39, 120.98),
    ("昆山市前进中路", "320583", "district", 31.39, 120.98),
    ("浙江省义乌市", "330782", "district", 29.31, 120.08),
    ("湖北省仙桃市", "429004", "district", 30.36, 113.42),
    ("广西南宁市青秀区", "450103", "district", 22.79, 108.49),
    ("内蒙古呼和浩特市新城区", "150102", "district", 40.86, 111.67),
    ("宁夏银川市兴庆区", "640104", "district", 38.47, 106.29),
    ("西藏拉萨市城关区", "540102", "district", 29.65, 91.14),
    ("云南省大理白族自治州大理市", "532901", "district", 25.68, 100.30),
    ("贵州省黔东南苗族侗族自治州凯里市", "522601", "district", 26.58, 107.98),
    ("湖北省恩施土家族苗族自治州恩施市", "422801", "district", 30.29, 109.48),
    # elsewhere, with and without the province
    ("广东省深圳市南山区科技园", "440305", "district", 22.53, 113.93),
    ("广州市天河区天河路385号", "440106", "district", 23.12, 113.36),
    ("上海市浦东新区世纪大道", "310115", "district", 31.22, 121.54),
    ("上海浦东", "310115", "district", 31.22, 121.54),
    ("重庆市渝中区解放碑", "500103", "district", 29.55, 106.57),
    ("四川省成都市武侯区", "510107", "district", 30.64, 104.04),
    ("湖北省武汉市洪山区珞喻路", "420111", "district", 30.50, 114.34),
    ("陕西省西安市雁塔区", "610113", "district", 34.21, 108.94),
    ("山东省青岛市市南区", "370202", "district", 36.08, 120.41),
    ("黑龙江省哈尔滨市南岗区", "230103", "district", 45.76, 126.67),
    ("海南省三亚市吉阳区", "460203", "district", 18.28, 109.58),
    ("甘肃省兰州市城关区", "620102", "district", 36.06, 103.83),
    ("青海省西宁市城西区", "630104", "district", 36.63, 101.77),
    ("山西省太原市小店区", "140105", "district", 37.74, 112.57),
    ("安徽省合肥市蜀山区", "340104", "district", 31.85, 117.26),
    ("湖南省长沙市岳麓区", "430104", "district", 28.23, 112.93),
    # a street named after a place is a street: 南京西路 is in Shanghai, 中山大道 in Guangzhou
    ("上海市南京西路1266号", "310000", "province", 31.23, 121.47),
    ("上海市宁海路", "310000", "province", 31.23, 121.47),
    ("广州市中山大道", "440100", "city", 23.13, 113.26),
    # city and province precision
    ("杭州市某某路", "330100", "city", 30.25, 120.21),
    ("广东省东莞市长安镇", "441900", "city", 23.02, 113.75),
    ("浙江省", "330000", "province", 30.27, 120.15),
    ("广东", "440000", "province", 23.13, 113.27),
    ("内蒙古", "150000", "province", 40.82, 111.77),
    ("新疆", "650000", "province", 43.79, 87.63),
    ("北京", "110000", "province", 39.90, 116.41),
    ("海南", "460000", "province", 20.02, 110.35),  # the province, not 海南藏族自治州
    ("本溪", "210500", "city", 41.49, 123.69),  # the city, not 本溪满族自治县 inside it
    # divisions the table has without coordinates: the parent's centre and precision
    ("杭州市临平区", "330113", "city", 30.25, 120.21),
    ("深圳市光明区", "440311", "city", 22.54, 114.06),
    ("西藏那曲市色尼区", "540602", "province", 29.65, 91.12),
]


@pytest.mark.parametrize("address, adcode, precision, lat, lon", ADDRESSES, ids=[a[0] for a in ADDRESSES])
def test_a_real_address_resolves_to_its_division_and_centre(address, adcode, precision, lat, lon):
    found = resolve(address)
    assert (found.adcode, found.precision) == (adcode, precision)
    assert km(found.lat, found.lon, lat, lon) < NEAR_KM


def test_the_table_covers_many_provinces():
    assert len({adcode[:2] for _, adcode, *_ in ADDRESSES}) >= 25


def test_names_are_the_tables_and_a_municipality_is_its_own_city():
    beijing = resolve("北京市朝阳区建国路88号")
    assert (beijing.province, beijing.city, beijing.district) == ("北京市", "北京市", "朝阳区")
    assert beijing.full_name == "北京市朝阳区"
    changchun = resolve("长春市朝阳区")
    assert (changchun.province, changchun.city, changchun.district) == ("吉林省", "长春市", "朝阳区")
    chongqing = resolve("重庆市城口县")
    assert (chongqing.adcode, chongqing.city) == ("500229", "重庆市")
    urumqi = resolve("新疆乌鲁木齐市天山区")
    assert (urumqi.province, urumqi.city) == ("新疆维吾尔自治区", "乌鲁木齐市")
    zhejiang = resolve("浙江")
    assert (zhejiang.province, zhejiang.city, zhejiang.district) == ("浙江省", None, None)


def test_a_division_without_coordinates_keeps_its_names_but_not_its_precision():
    linping, hangzhou = resolve("浙江省杭州市临平区"), resolve("浙江省杭州市")
    assert (linping.adcode, linping.district, linping.precision) == ("330113", "临平区", "city")
    assert (linping.lat, linping.lon) == (hangzhou.lat, hangzhou.lon)


def test_the_nearest_ancestor_with_a_centre_is_the_one_taken():
    table = Gazetteer([
        Division("330000", "浙江省", "province", "浙江省", None, None, 30.27, 120.15),
        Division("330100", "杭州市", "city", "浙江省", "杭州市", "330000", None, None),
        Division("330113", "临平区", "district", "浙江省", "杭州市", "330100", None, None),
        Division("330200", "宁波市", "city", "浙江省", "宁波市", "330000", 29.87, 121.54),
        Division("330205", "江北区", "district", "浙江省", "宁波市", "330200", None, None),
    ])
    assert table.resolve("杭州市临平区").precision == "province"
    assert (table.resolve("临平区").lat, table.resolve("临平区").lon) == (30.27, 120.15)
    jiangbei = table.resolve("江北区")
    assert (jiangbei.precision, jiangbei.adcode, jiangbei.lat) == ("city", "330205", 29.87)


@pytest.mark.parametrize("address, message, adcodes", [
    ("朝阳区建国路88号", "朝阳区 is in 北京市 and 长春市: give the province or city", {"110105", "220104"}),
    ("西湖区", "西湖区 is in 杭州市 and 南昌市: give the province or city", {"330106", "360103"}),
    ("鼓楼区中山路1号", "鼓楼区 is in 南京市, 徐州市, 福州市 and 开封市: give the province or city",
     {"320106", "320302", "350102", "410204"}),
    ("市中区", "市中区 is in 济南市, 枣庄市, 内江市 and 乐山市: give the province or city",
     {"370103", "370402", "511002", "511102"}),
    ("兴安", "兴安 could be 内蒙古自治区兴安盟 or 广西壮族自治区桂林市兴安县: give the province or city",
     {"152200", "450325"}),
])
def test_an_ambiguous_address_is_refused_with_the_candidates(address, message, adcodes):
    with pytest.raises(AddressNotResolved) as refused:
        resolve(address)
    assert refused.value.message == message
    assert {candidate.adcode for candidate in refused.value.candidates} == adcodes


@pytest.mark.parametrize("address", ["文三路90号", "", "   ", "123 Main Street, Springfield", "人民路"])
def test_an_address_naming_no_division_is_refused(address):
    with pytest.raises(AddressNotResolved) as refused:
        resolve(address)
    assert "no province, city or district recognised" in refused.value.message
    assert refused.value.candidates == ()


def test_an_address_that_contradicts_itself_is_refused():
    with pytest.raises(AddressNotResolved) as refused:
        resolve("浙江省南京市鼓楼区")
    assert refused.value.message == "浙江省 and 江苏省南京市鼓楼区 are different places: give one of them"
    assert {c.adcode for c in refused.value.candidates} == {"320106", "330000"}


@pytest.mark.parametrize("address, fields, adcode", [
    ("朝阳区建国路88号", {"province": "北京市"}, "110105"),
    ("朝阳区建国路88号", {"city": "长春市"}, "220104"),
    ("朝阳区建国路88号", {"city": "长春"}, "220104"),
    ("西湖区文三路90号", {"province": "浙江"}, "330106"),
    ("西湖区", {"city": "南昌市"}, "360103"),
    ("鼓楼区五四路", {"province": "福建省"}, "350102"),
    ("鼓楼区", {"province": "江苏省", "city": "徐州市"}, "320302"),
    ("文三路90号", {"province": "浙江省", "city": "杭州市", "district": "西湖区"}, "330106"),
    ("建国路88号", {"city": "北京", "district": "朝阳区"}, "110105"),
    ("北京市朝阳区建国路88号", {"district": "朝阳区"}, "110105"),
    ("文三路90号", {"province": "浙江省"}, "330000"),
])
def test_the_province_city_and_district_fields_settle_a_shared_name(address, fields, adcode):
    assert resolve(address, **fields).adcode == adcode


def test_fields_that_disagree_with_the_address_or_name_nothing_are_refused():
    with pytest.raises(AddressNotResolved, match="province 浙江省 and 北京市朝阳区 are different places"):
        resolve("北京市朝阳区建国路88号", province="浙江省")
    with pytest.raises(AddressNotResolved, match="Zhejiang is not a province we know") as unknown:
        resolve("杭州市西湖区", province="Zhejiang")
    assert unknown.value.field == "province"
    with pytest.raises(AddressNotResolved) as refused:
        resolve("建国路88号", district="朝阳区")
    assert {c.adcode for c in refused.value.candidates} == {"110105", "220104"}


@pytest.mark.parametrize("name, level, forms", [
    ("浙江省", "province", {"浙江"}),
    ("北京市", "province", {"北京"}),
    ("内蒙古自治区", "province", {"内蒙古"}),
    ("广西壮族自治区", "province", {"广西"}),
    ("新疆维吾尔自治区", "province", {"新疆"}),
    ("宁夏回族自治区", "province", {"宁夏"}),
    ("西藏自治区", "province", {"西藏"}),
    ("香港特别行政区", "province", {"香港"}),
    ("杭州市", "city", {"杭州"}),
    ("延边朝鲜族自治州", "city", {"延边", "延边州"}),
    ("湘西土家族苗族自治州", "city", {"湘西", "湘西州"}),
    ("博尔塔拉蒙古自治州", "city", {"博尔塔拉", "博尔塔拉州"}),
    ("阿克苏地区", "city", {"阿克苏"}),
    ("阿拉善盟", "city", {"阿拉善"}),
    ("昆山市", "district", {"昆山"}),
    ("长兴县", "district", {"长兴"}),
    ("长阳土家族自治县", "district", {"长阳", "长阳县"}),
    ("东乡族自治县", "district", {"东乡", "东乡县"}),
    ("龙胜各族自治县", "district", {"龙胜", "龙胜县"}),
    ("莫力达瓦达斡尔族自治旗", "district", {"莫力达瓦旗"}),
    ("浦东新区", "district", {"浦东"}),
    ("神农架林区", "district", {"神农架"}),
    ("忠县", "district", set()),  # one character is no name
    ("朝阳区", "district", set()),  # 朝阳 is 朝阳市
    ("达拉特旗", "district", set()),
])
def test_the_short_forms_people_write(name, level, forms):
    assert short_forms(name, level) == forms


def test_the_longest_name_wins():
    assert resolve("辽宁省朝阳市").adcode == "211300"
    assert resolve("朝阳市双塔区").adcode == "211302"
    assert resolve("北京朝阳区").adcode == "110105"  # 朝阳区, not 朝阳 (市) followed by 区
    assert resolve("吉林省吉林市船营区").adcode == "220204"


def test_the_table_is_loaded_once():
    assert gazetteer() is gazetteer()


DISTRICTS = [d for d in gazetteer().divisions if d.level == "district"]


def test_every_district_resolves_from_province_city_and_district_to_itself():
    wrong = {}
    for district in DISTRICTS:
        own = gazetteer().geocode(district.adcode)
        for address in (own.province + (own.city or "") + district.name, own.full_name):
            found = resolve(address)
            if found.adcode != district.adcode:
                wrong[address] = found.full_name
    assert len(DISTRICTS) > 2800
    assert wrong == {}


STREETS = ["中山路88号", "南京西路1266号", "人民大道1号", "解放东路", "北京路100号3幢", "延安西路2号",
           "长江路", "和平路5号", "宁海路", "朝阳门外大街", "文三路90号", ""]


@given(st.sampled_from(DISTRICTS), st.sampled_from(STREETS), st.booleans())
def test_a_district_with_its_city_and_any_street_resolves_to_itself(district, street, with_province):
    own = gazetteer().geocode(district.adcode)
    head = own.province if with_province or not own.city else ""
    found = resolve(f"{head}{own.city or ''}{district.name}{street}")
    assert found.adcode == district.adcode
    assert found.precision in ("district", "city", "province")
