"""The sales console (/console/) in a real browser: Debian's Chromium, headless, driven by Selenium
through Debian's chromedriver, against the whole system as processes (one system, one browser for
the module). Every wait is explicit with a deadline. The run leaves screenshots of the main pages in
docs/screenshots/ (docs/console.md shows them)."""
from __future__ import annotations

import pathlib
import random
import re
import shutil
import uuid
from datetime import UTC, datetime

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_admin_orders import distributor, stock
from test_onboarding_api import application

from conftest import ROOT

pytestmark = pytest.mark.e2e


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = ROOT / "docs" / "screenshots"
WAIT_SECONDS = 20


@pytest.fixture(scope="module")
def browser():
    if not (pathlib.Path(CHROMIUM).exists() and pathlib.Path(CHROMEDRIVER).exists()):
        pytest.fail("the browser tests need Debian's chromium and chromium-driver "
                    "(deploy/test-prerequisites installs them)")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1366,1000", "--lang=zh-CN", "--hide-scrollbars",
                     "--disable-background-networking", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def world(system, client):
    """What the pages show: a submitted application, an order routed between three distributors
    (the nearest short of stock, the next chosen, a farther one passed over) and shipped, a parity
    violation."""
    tag = uuid.uuid4().hex[:8].upper()
    sku = f"CON-{tag}"
    r = client["sales"].post("/v1/admin/products", json={
        "sku": sku, "name": "全棉浴巾 70×140", "category": "towels", "lifecycle": "new", "status": "active"})
    assert r.status_code == 201, r.text
    r = client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "129.00", "floor_price": "60.00"})
    assert r.status_code == 200, r.text

    lat, lon = round(random.uniform(27.0, 33.0), 4), round(random.uniform(104.0, 110.0), 4)
    chosen, chosen_id, (chosen_loc,) = distributor(client, system, lat, lon, [0.06])
    short, _, (short_loc,) = distributor(client, system, lat, lon, [0.02])
    far, _, (far_loc,) = distributor(client, system, lat, lon, [0.2])
    stock(chosen, chosen_loc, {sku: 20})
    stock(short, short_loc, {sku: 1})
    stock(far, far_loc, {sku: 50})
    external_id = f"TM-CONSOLE-{tag}"
    r = client["channel"].post("/v1/orders", json={
        "external_id": external_id, "lines": [{"sku": sku, "qty": 3}],
        "ship_to": {"name": "李娜", "phone": "13812345678", "address": "滨河路 1 号", "lat": lat, "lon": lon}})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["shipments"][0]["distributor_id"] == chosen_id, order
    assignment = order["shipments"][0]["assignment_id"]
    assert chosen.post(f"/v1/assignments/{assignment}/accept").status_code == 200
    r = chosen.post(f"/v1/assignments/{assignment}/ship", json={"carrier": "SF", "tracking_no": f"SF{tag}"})
    assert r.status_code == 200, r.text

    r = client["sales"].post("/v1/admin/price-observations", json={
        "channel": "douyin", "seller": str(chosen_id), "sku": sku, "observed_price": "99.00",
        "observed_at": datetime.now(UTC).isoformat(),  # after the price took effect
        "source_url": "https://example.cn/item/1"})
    assert r.status_code == 201 and r.json()["result"] == "violation", r.text

    def submit(name: str) -> int:
        r = client["anonymous"].post("/v1/applications", json=application(
            company_name=name, locations=[{"name": "成都仓", "lat": 30.66, "lon": 104.07}]))
        assert r.status_code == 201, r.text
        return r.json()["id"]

    return {"sku": sku, "order": order, "external_id": external_id, "chosen_id": chosen_id,
            "approve": submit(f"成都棉语家纺有限公司 {tag}"), "reject": submit(f"Refused Co {tag}")}


# ---- helpers -------------------------------------------------------------------------------------


def wait(browser, condition, message: str):
    return WebDriverWait(browser, WAIT_SECONDS).until(condition, message)


def open_page(browser, system, path: str) -> None:
    browser.get(system.base_url + path)
    wait(browser, lambda b: b.execute_script("return document.readyState") == "complete", f"{path} loaded")


def sign_in(browser, system, key: str, then: str = "/console/") -> None:
    browser.delete_all_cookies()
    open_page(browser, system, "/console/sign-in?next=" + then)
    field = browser.find_element(By.ID, "api_key")
    field.send_keys(key)
    field.send_keys(Keys.ENTER)
    wait(browser, EC.presence_of_element_located((By.ID, "sign-out")), "signed in")


def shoot(browser, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return Math.min(document.documentElement.scrollHeight, 2400)")
    browser.set_window_size(1366, max(int(height), 800))
    try:
        browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    finally:
        browser.set_window_size(1366, 1000)


def assert_accessible_basics(browser) -> None:
    """Every form control has a label, the page says its language, nothing came from elsewhere."""
    unlabelled = browser.execute_script("""
        return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
          .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
          .map(el => el.outerHTML);""")
    assert unlabelled == []
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") in ("zh-CN", "en")
    origin = browser.execute_script("return location.origin")
    foreign = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !n.startsWith(arguments[0]))", origin)
    assert foreign == [], f"assets from outside the system: {foreign}"


def wait_for_chart(browser, canvas_id: str) -> None:
    wait(browser, lambda b: b.find_element(By.ID, canvas_id).get_attribute("data-rendered") == "true",
         f"chart {canvas_id} drawn")
    drawn = browser.execute_script(
        "const c = document.getElementById(arguments[0]); const chart = Chart.getChart(c);"
        "const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let ink = 0; for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) ink++; }"
        "return [chart ? chart.data.datasets.length : 0, ink];", canvas_id)
    assert drawn[0] >= 1 and drawn[1] > 500, drawn


# ---- tests ---------------------------------------------------------------------------------------


def test_a_page_without_a_session_redirects_to_sign_in(browser, system):
    browser.delete_all_cookies()
    open_page(browser, system, "/console/orders?status=routed")
    wait(browser, EC.url_contains("/console/sign-in"), "redirected to sign-in")
    assert "next=%2Fconsole%2Forders%3Fstatus%3Drouted" in browser.current_url
    assert browser.find_element(By.CSS_SELECTOR, "label[for=api_key]").text == "API 密钥"
    assert_accessible_basics(browser)
    # the skip link is the first stop of the keyboard
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("class") == "skip"
    shoot(browser, "sign-in")
    # a wrong key is refused on the page, and no session cookie is set
    field = browser.find_element(By.ID, "api_key")
    field.send_keys("dcm_not-a-key")
    field.send_keys(Keys.ENTER)
    wait(browser, EC.presence_of_element_located((By.ID, "sign-in-error")), "refusal shown")
    assert browser.get_cookie("dcm_console") is None


def test_the_session_cookie_is_httponly_and_strict(browser, system, keys):
    sign_in(browser, system, keys["sales"])
    cookie = browser.get_cookie("dcm_console")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert browser.execute_script("return document.cookie").find("dcm_console=") == -1
    assert browser.find_element(By.ID, "role").text == "销售"


def test_a_manager_approves_finds_an_order_on_its_map_sees_charts_and_signs_out(browser, system, keys, world,
                                                                                client):
    sign_in(browser, system, keys["manager"], "/console/applications")
    assert browser.find_element(By.ID, "role").text == "销售经理"
    card = browser.find_element(By.ID, f"application-{world['approve']}")
    assert_accessible_basics(browser)
    shoot(browser, "applications")
    Select(card.find_element(By.NAME, "tier")).select_by_value("platinum")
    card.find_element(By.ID, f"approve-{world['approve']}").click()
    approved = wait(browser, EC.presence_of_element_located((By.ID, "approved")), "approval shown")
    assert browser.find_element(By.ID, "new-key").get_attribute("value").startswith("dcm_")
    assert "已批准" in approved.text or "#" in approved.text
    distributor_id = int(re.search(r"/console/distributors/(\d+)",
                                   browser.find_element(By.ID, "to-distributor").get_attribute("href")).group(1))
    r = client["manager"].get(f"/v1/admin/distributors/{distributor_id}")
    assert r.status_code == 200 and r.json()["tier"] == "platinum"

    # the distributor's page: history and its locations on a map
    browser.find_element(By.ID, "to-distributor").click()
    wait(browser, EC.presence_of_element_located((By.ID, "location-map")), "location map")
    assert browser.find_element(By.ID, "distributor-status").text == "在营"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#location-map g.point")) == 1
    assert len(browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")) >= 1
    shoot(browser, "distributor")

    # reject the other application with a reason
    open_page(browser, system, "/console/applications")
    card = browser.find_element(By.ID, f"application-{world['reject']}")
    card.find_element(By.NAME, "reason").send_keys("营业执照过期")
    card.find_element(By.ID, f"reject-{world['reject']}").click()
    wait(browser, EC.presence_of_element_located((By.ID, "notice")), "rejection notice")
    r = client["manager"].get(f"/v1/admin/applications/{world['reject']}")
    assert r.json()["status"] == "rejected"

    # find the order by its external id: straight to its routing map
    open_page(browser, system, "/console/orders")
    browser.find_element(By.ID, "external_id").send_keys(world["external_id"])
    browser.find_element(By.ID, "search-orders").click()
    routing = wait(browser, EC.presence_of_element_located((By.ID, "routing-map")), "routing map")
    assert browser.current_url.endswith(f"/console/orders/{world['order']['id']}")
    kinds = {el.get_attribute("class") for el in routing.find_elements(By.CSS_SELECTOR, "g.point")}
    assert {"point point-customer", "point point-chosen", "point point-insufficient_stock",
            "point point-farther"} <= kinds, kinds
    assert len(routing.find_elements(By.CSS_SELECTOR, "line.shipment")) == 1
    assert len(routing.find_elements(By.CSS_SELECTOR, "ellipse.radius")) >= 3
    assert browser.find_element(By.ID, "order-status").text == "已发货"
    assert_accessible_basics(browser)
    shoot(browser, "order-routing-map")

    # charts: parity violations per day, assortment against the target
    open_page(browser, system, "/console/parity")
    wait_for_chart(browser, "violations-chart")
    assert str(world["chosen_id"]) in browser.find_element(By.ID, "violations-table").text
    shoot(browser, "parity")
    open_page(browser, system, "/console/assortment")
    wait_for_chart(browser, "assortment-chart")
    assert "20 %" in browser.find_element(By.ID, "assortment-summary").text
    shoot(browser, "assortment")

    # the distributors' search and map, prices, settlement with its CSV, in English
    browser.find_element(By.CSS_SELECTOR, "a[lang=en]").click()
    wait(browser, lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en", "English")
    assert browser.find_element(By.CSS_SELECTOR, "nav a[href='/console/applications']").text == "Applications"
    open_page(browser, system, "/console/distributors")
    browser.find_element(By.ID, "q").send_keys("Hangzhou Home")
    browser.find_element(By.ID, "q").send_keys(Keys.ENTER)
    wait(browser, EC.url_contains("q=Hangzhou"), "searched")
    assert browser.find_elements(By.CSS_SELECTOR, "#distributor-table tbody tr")
    assert browser.find_elements(By.CSS_SELECTOR, "#distributor-map g.point")
    assert_accessible_basics(browser)
    shoot(browser, "distributors")
    open_page(browser, system, f"/console/prices?sku={world['sku']}")
    assert browser.find_element(By.ID, "list-price").text.startswith("129.00")
    assert re.match(r"\d+\.\d\d", browser.find_element(By.ID, "retail-price").text)  # promotions may apply
    shoot(browser, "prices")
    open_page(browser, system, f"/console/settlement?distributor_id={world['chosen_id']}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#statement-table tbody tr")
    assert len(rows) == 1 and "387.00" in rows[0].text
    csv_link = rows[0].find_element(By.CSS_SELECTOR, "a[download]").get_attribute("href")
    csv_text = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text().then(t => done([r.status, t])));", csv_link)
    assert csv_text[0] == 200 and csv_text[1].lstrip("\ufeff").startswith("order_id,external_id,channel,sku")
    assert world["external_id"] in csv_text[1]
    shoot(browser, "settlement")

    # sign out: the session is gone, the pages send to sign-in again
    browser.find_element(By.CSS_SELECTOR, "a[lang=zh-CN]").click()
    wait(browser, lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN", "Chinese")
    browser.find_element(By.ID, "sign-out").click()
    wait(browser, EC.url_contains("/console/sign-in"), "signed out")
    assert browser.get_cookie("dcm_console") is None
    open_page(browser, system, "/console/applications")
    wait(browser, EC.url_contains("/console/sign-in"), "pages need a session again")


def test_sales_sees_manager_actions_disabled(browser, system, keys, client):
    receipt = client["anonymous"].post("/v1/applications", json=application()).json()
    sign_in(browser, system, keys["sales"], "/console/applications")
    card = browser.find_element(By.ID, f"application-{receipt['id']}")
    approve = card.find_element(By.ID, f"approve-{receipt['id']}")
    assert approve.get_attribute("disabled") is not None and not approve.is_enabled()
    assert not card.find_element(By.ID, f"reject-{receipt['id']}").is_enabled()
    assert "仅限销售经理" in browser.find_element(By.ID, "manager-only").text
    assert approve.get_attribute("aria-describedby") == "manager-only"
    shoot(browser, "applications-as-sales")
    # forcing the button is still refused, by the API's own role check
    browser.execute_script("for (const el of arguments[0].querySelectorAll('[disabled]')) el.disabled = false;",
                           card)
    card.find_element(By.ID, f"approve-{receipt['id']}").click()
    problem = wait(browser, EC.presence_of_element_located((By.ID, "api-problem")), "refusal shown")
    assert "403" in problem.text
    assert client["manager"].get(f"/v1/admin/applications/{receipt['id']}").json()["status"] == "submitted"


def test_a_form_without_its_csrf_token_is_refused(browser, system, keys, client):
    receipt = client["anonymous"].post("/v1/applications", json=application()).json()
    sign_in(browser, system, keys["manager"], "/console/applications")
    card = browser.find_element(By.ID, f"application-{receipt['id']}")
    form = card.find_element(By.CSS_SELECTOR, "form.reject")
    browser.execute_script("arguments[0].querySelector('[name=csrf_token]').remove()", form)
    card.find_element(By.NAME, "reason").send_keys("no token")
    card.find_element(By.ID, f"reject-{receipt['id']}").click()
    wait(browser, lambda b: "CSRF" in b.find_element(By.TAG_NAME, "body").text, "refused")
    assert client["manager"].get(f"/v1/admin/applications/{receipt['id']}").json()["status"] == "submitted"
    # and from outside the browser: a session cookie without the token changes nothing either
    cookie = browser.get_cookie("dcm_console")["value"]
    r = requests.post(f"{system.base_url}/console/applications/{receipt['id']}/reject", timeout=30,
                      data={"reason": "forged"}, cookies={"dcm_console": cookie}, allow_redirects=False)
    assert r.status_code == 403
    r = requests.post(f"{system.base_url}/console/applications/{receipt['id']}/reject", timeout=30,
                      data={"reason": "forged", "csrf_token": "0" * 64}, cookies={"dcm_console": cookie},
                      allow_redirects=False)
    assert r.status_code == 403
    assert client["manager"].get(f"/v1/admin/applications/{receipt['id']}").json()["status"] == "submitted"


def test_console_pages_are_not_api_routes(client):
    paths = client["anonymous"].get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/console")]

