#!/usr/bin/env python3
"""End-to-end test of the web console in real headless Chromium (Selenium).

Starts a whole stack with `deploy/refx.sh up` in a temporary REFX_HOME on free
ports (broker, router, delivery, outcomes, console), then, as a person would:
the lead for DA_MARAC signs in, watches a referral submitted with `refx
submit` appear in the inbox without reloading, opens it and acknowledges it,
is refused another destination's case, and signs out; the auditor reads the
referral's timeline with a purpose and sees the lead named on the
acknowledgement, downloads its record, verifies the log on the integrity
page (after a broker restart, which signs a checkpoint), then finds the
person's referrals by name and date of birth (spelled with other spacing and
case); the admin opens the people page. The case actions are taken with the
keyboard alone. axe-core checks each page for serious or critical
accessibility violations. The case history, the timeline and the integrity
page are printed to PDF through the DevTools protocol (Page.printToPDF) after
checking, under print emulation (Emulation.setEmulatedMedia), that
navigation, buttons and forms are hidden and the text is black on white.
Screenshots, PDFs and the axe results stay in --artefacts. Exit 0 only when
every check passed.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

FAILURES = []


def check(condition, what):
    print(("ok     " if condition else "FAILED ") + what, flush=True)
    if not condition:
        FAILURES.append(what)


def free_port_base():
    """A base whose ports base, +43 (console) and +90..+93 (metrics) are free."""
    for base in range(21000 + (os.getpid() % 50) * 200, 60000, 200):
        ok = True
        for offset in (0, 43, 90, 91, 92, 93):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", base + offset))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free ports")


def axe_source(build):
    """axe-core from npm, installed once into the build folder (never by the product)."""
    prefix = os.path.join(build, "console-e2e")
    path = os.path.join(prefix, "node_modules", "axe-core", "axe.min.js")
    if not os.path.exists(path):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, "axe-core@4"],
                       check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return f.read()


class Run:
    def __init__(self, args):
        self.args = args
        self.axe = axe_source(args.build)
        self.axe_results = {}
        os.makedirs(args.artefacts, exist_ok=True)

    def shot(self, driver, name):
        driver.save_screenshot(os.path.join(self.args.artefacts, name + ".png"))

    def audit_a11y(self, driver, name):
        driver.execute_script(self.axe)
        violations = driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(function (r) { done(r.violations); })"
            ".catch(function (e) { done([{id: 'axe-error', impact: 'critical', description: String(e), nodes: []}]); });")
        self.axe_results[name] = violations
        bad = [v["id"] for v in violations if v.get("impact") in ("serious", "critical")]
        check(not bad, "axe: no serious or critical violation on the %s page %s" % (name, bad if bad else ""))


    def print_pdf(self, driver, name, must_show):
        """Under print emulation: no navigation, buttons or forms, black on
        white, `must_show` (an element id) shown; then prints to NAME.pdf."""
        hidden_js = ("return [].slice.call(document.querySelectorAll(arguments[0]))"
                     ".filter(function (e) { return getComputedStyle(e).display !== 'none' && e.offsetParent !== null; }).length;")
        screen_nav = driver.execute_script(hidden_js, "header.top, nav")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            check(driver.execute_script("return matchMedia('print').matches;"), "%s: print emulation is on" % name)
            check(screen_nav > 0 and driver.execute_script(hidden_js, "header.top, nav, .skip, footer.foot") == 0,
                  "%s: under print the navigation (shown on screen) is hidden" % name)
            check(driver.execute_script(hidden_js, "button, form, input, select") == 0,
                  "%s: under print no button, form or field shows" % name)
            colours = driver.execute_script(
                "var b = getComputedStyle(document.body), m = getComputedStyle(document.querySelector('main'));"
                "return [b.color, b.backgroundColor, m.color];")
            check(colours[0] == "rgb(0, 0, 0)" and colours[1] == "rgb(255, 255, 255)" and colours[2] == "rgb(0, 0, 0)",
                  "%s: under print the text is black on white %s" % (name, colours))
            clipped = driver.execute_script(
                "return [].slice.call(document.querySelectorAll('main td, main dd'))"
                ".filter(function (e) { var s = getComputedStyle(e);"
                " return s.overflow !== 'visible' || s.textOverflow === 'ellipsis' || e.scrollWidth > e.clientWidth + 1; }).length;")
            check(clipped == 0, "%s: under print no cell is clipped (%d)" % (name, clipped))
            check(driver.execute_script("var e = document.getElementById(arguments[0]);"
                                        "return e !== null && getComputedStyle(e).display !== 'none';", must_show),
                  "%s: under print #%s shows" % (name, must_show))
            pdf = base64.b64decode(driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})["data"])
        finally:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        path = os.path.join(self.args.artefacts, name + ".pdf")
        with open(path, "wb") as f:
            f.write(pdf)
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        check(pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:] and pages >= 1,
              "%s: printed to a PDF of %d page(s), %d bytes (%s)" % (name, pages, len(pdf), path))


def tab_to(driver, element_id, limit=80):
    """Presses Tab until the element with `element_id` has the focus (the
    keyboard alone); False if `limit` presses do not reach it."""
    for _ in range(limit):
        if driver.switch_to.active_element.get_attribute("id") == element_id:
            return True
        webdriver.ActionChains(driver).send_keys(Keys.TAB).perform()
    return driver.switch_to.active_element.get_attribute("id") == element_id


def restart_broker(home, build, base):
    """Stops the stack's broker with SIGTERM (it signs a checkpoint of its
    head as it stops) and starts it again as deploy/refx.sh does."""
    pid_file = os.path.join(home, "run", "broker.pid")
    pid = int(open(pid_file).read().strip())
    os.kill(pid, signal.SIGTERM)
    for _ in range(300):
        if not os.path.exists("/proc/%d" % pid):
            break
        time.sleep(0.1)
    log = open(os.path.join(home, "log", "broker.log"), "a")
    broker = subprocess.Popen([os.path.join(build, "bin", "refx-broker"), "--config",
                               os.path.join(home, "config.textproto"), "--data", os.path.join(home, "data"),
                               "--key-dir", os.path.join(home, "keys")], stdout=log, stderr=log,
                              start_new_session=True)
    with open(pid_file, "w") as f:
        f.write("%d\n" % broker.pid)
    for _ in range(300):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % (base + 90), timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def sign_in(driver, url, user, password):
    driver.get(url + "/")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("--artefacts", required=True)
    args = parser.parse_args()
    run = Run(args)
    home = tempfile.mkdtemp(prefix="refx_console_e2e_")
    base = free_port_base()
    env = dict(os.environ, REFX_HOME=home, REFX_PORT_BASE=str(base), REFX_BUILT="1")
    script = os.path.join(args.source, "deploy", "refx.sh")
    driver = None
    try:
        up = subprocess.run([script, "up"], env=env, cwd=args.source, capture_output=True, text=True)
        check(up.returncode == 0, "deploy/refx.sh up starts the stack with the console")
        if up.returncode != 0:
            print(up.stdout, up.stderr)
            return 1
        status = subprocess.run([script, "status"], env=env, cwd=args.source, capture_output=True, text=True)
        url = "https://127.0.0.1:%d" % (base + 43)
        check(url + "/" in status.stdout, "deploy/refx.sh status prints the console's URL")
        logins_path = os.path.join(home, "keys", "console-dev-logins.txt")
        check(oct(os.stat(logins_path).st_mode & 0o777) == "0o600", "console-dev-logins.txt has mode 0600")
        logins = dict(line.split(" ", 1) for line in open(logins_path).read().split("\n") if line)
        check("lead-DA_MARAC" in logins and "auditor" in logins and "admin" in logins,
              "development accounts lead-<DESTINATION>, auditor and admin exist")

        profile = os.path.join(home, "chromium-profile")
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--user-data-dir=" + profile, "--ignore-certificate-errors", "--window-size=1280,1000"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.set_script_timeout(60)
        wait = WebDriverWait(driver, 90)

        # The login page is the first page.
        driver.get(url + "/")
        check(driver.find_element(By.ID, "username").get_attribute("type") == "text" and
              driver.find_element(By.ID, "password").get_attribute("type") == "password",
              "the first page has a user-name and a password field")
        run.shot(driver, "01-login")
        run.audit_a11y(driver, "login")
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        check(driver.switch_to.active_element.get_attribute("class") == "skip",
              "keyboard: the first Tab reaches the skip link")

        sign_in(driver, url, "lead-DA_MARAC", logins["lead-DA_MARAC"])
        wait.until(lambda d: "/inbox" in d.current_url)
        check("/inbox" in driver.current_url, "the lead signs in and lands on the inbox")
        wait.until(lambda d: d.find_element(By.ID, "inbox").get_attribute("data-live") == "on")
        driver.execute_script("window.refxNoReload = 'still here';")
        run.shot(driver, "02-inbox-empty")
        run.audit_a11y(driver, "inbox")

        samples = os.path.join(home, "samples")
        subprocess.run([script, "samples", samples], env=env, cwd=args.source, check=True, capture_output=True)
        submit = subprocess.run([os.path.join(args.build, "bin", "refx"), "submit", "01-da-high-risk.json"],
                                env=env, cwd=samples, capture_output=True, text=True)
        found = re.search(r"R-\d{10}", submit.stdout)
        check(submit.returncode == 0 and found is not None, "refx submit is accepted")
        referral = found.group(0) if found else "R-0000000000"
        row = 'tr[data-referral="%s"][data-destination="DA_MARAC"]' % referral
        try:
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row))
            appeared = True
        except TimeoutException:
            appeared = False
        check(appeared, "the submitted referral appears in the inbox by itself")
        check(driver.execute_script("return window.refxNoReload;") == "still here", "... without a reload")
        run.shot(driver, "03-inbox-live")

        driver.find_element(By.CSS_SELECTOR, row + " a").click()
        wait.until(lambda d: d.find_elements(By.ID, "case-state"))
        run.shot(driver, "04-case")
        run.audit_a11y(driver, "case")
        wait.until(lambda d: d.find_elements(By.ID, "act-ack"))
        # The keyboard alone: Tab from the top of the page to each action, Enter.
        driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
        check(tab_to(driver, "act-ack"), "keyboard: Tab reaches the Acknowledge button")
        check(driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle;") != "none",
              "keyboard: the focused button shows a focus outline")
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.notice"))
        check(driver.find_element(By.ID, "case-state").text == "Acknowledged",
              "the lead acknowledges the case with the keyboard")
        run.shot(driver, "05-case-acknowledged")
        run.audit_a11y(driver, "case-acknowledged")
        driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
        check(tab_to(driver, "accept-note"), "keyboard: Tab reaches the accept note")
        driver.switch_to.active_element.send_keys("Listed for the next MARAC")
        driver.switch_to.active_element.send_keys(Keys.TAB)
        check(driver.switch_to.active_element.get_attribute("id") == "act-accept",
              "keyboard: the next Tab reaches the Accept button")
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait.until(lambda d: d.find_element(By.ID, "case-state").text == "Accepted")
        check(driver.find_element(By.ID, "case-state").text == "Accepted", "the lead accepts the case with the keyboard")
        run.shot(driver, "05b-case-accepted")
        run.audit_a11y(driver, "case-accepted")
        run.print_pdf(driver, "print-case-history", "history-h")

        driver.get(url + "/case?referral=%s&destination=IDVA" % referral)
        check("Not your destination" in driver.find_element(By.TAG_NAME, "h1").text,
              "another destination's case is refused")
        run.shot(driver, "06-other-destination-refused")

        driver.get(url + "/inbox")
        driver.find_element(By.ID, "sign-out").click()
        wait.until(lambda d: "signed_out" in d.current_url)
        check(driver.find_elements(By.ID, "password") != [], "the lead signs out and sees the sign-in page")
        driver.get(url + "/inbox")
        check(driver.find_elements(By.ID, "password") != [], "after signing out the inbox asks to sign in")
        run.shot(driver, "07-signed-out")

        sign_in(driver, url, "auditor", logins["auditor"])
        wait.until(lambda d: "/audit" in d.current_url)
        run.audit_a11y(driver, "audit")
        driver.find_element(By.ID, "referral").send_keys(referral)
        driver.find_element(By.ID, "purpose").send_keys("end-to-end test of the console")
        driver.find_element(By.ID, "find-referral").click()
        wait.until(lambda d: d.find_elements(By.ID, "timeline"))
        timeline = driver.find_element(By.ID, "timeline").text
        check(re.search(r"Case acknowledged.*lead-DA_MARAC", timeline) is not None,
              "the auditor's timeline names the lead on the acknowledgement")
        run.shot(driver, "08-audit-timeline")
        run.audit_a11y(driver, "audit-timeline")
        run.print_pdf(driver, "print-audit-timeline", "timeline")
        # The downloads are refx audit export's record of the referral.
        for fmt, marker in (("html", "Record of referral " + referral), ("csv", "seq,time,actor,kind"),
                            ("json", '"referralId": "%s"' % referral)):
            href = driver.find_element(By.ID, "download-" + fmt).get_attribute("href")
            body = driver.execute_async_script(
                "var done = arguments[arguments.length - 1];"
                "fetch(arguments[0], {credentials: 'same-origin'}).then(function (r) { return r.text(); })"
                ".then(done).catch(function (e) { done('failed: ' + e); });", href)
            check("to_seq=" in href and marker in body, "the %s download is the referral's record" % fmt)

        # The integrity page, after a restart that makes the broker sign a checkpoint.
        check(restart_broker(home, args.build, base), "the broker restarts (and signs its head)")
        driver.get(url + "/audit")
        driver.find_element(By.ID, "integrity-link").click()
        wait.until(lambda d: d.find_elements(By.ID, "integrity-purpose"))
        run.audit_a11y(driver, "integrity-form")
        driver.find_element(By.ID, "integrity-purpose").send_keys("end-to-end integrity check")
        driver.find_element(By.ID, "integrity-purpose").send_keys(Keys.ENTER)
        wait.until(lambda d: d.find_elements(By.ID, "verdict"))
        check(driver.find_element(By.ID, "verdict").text.startswith("Intact:"), "the integrity page says the log is intact")
        rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#checkpoints tbody tr")]
        check(any("broker" in r and r.endswith("verified") for r in rows),
              "the integrity page lists a checkpoint signed by the broker, verified %s" % rows[-3:])
        run.shot(driver, "10-integrity")
        run.audit_a11y(driver, "integrity")
        run.print_pdf(driver, "print-integrity", "checkpoints")

        # Find every referral about the sample's person, spelled differently
        # (the keyed subject hash ignores spacing and case).
        driver.get(url + "/audit")
        # `refx.sh samples` shifts the samples' dates to today, dates of birth
        # included: search with the date the submitted file holds.
        with open(os.path.join(samples, "01-da-high-risk.json")) as f:
            dob = json.load(f)["person"]["dateOfBirth"]
        driver.find_element(By.ID, "subject-name").send_keys("hannah  WHITLOW")
        driver.execute_script("arguments[0].value = arguments[1];", driver.find_element(By.ID, "subject-dob"), dob)
        driver.find_element(By.ID, "subject-purpose").send_keys("end-to-end test: subject access request")
        driver.find_element(By.ID, "find-subject").click()
        wait.until(lambda d: d.find_elements(By.ID, "subject-referrals") or d.find_elements(By.ID, "subject-none"))
        found_rows = driver.find_elements(By.ID, "subject-referrals")
        check(bool(found_rows) and referral in found_rows[0].text,
              "the auditor finds the person's referral by name and date of birth")
        run.shot(driver, "08b-audit-subject")
        run.audit_a11y(driver, "audit-subject")
        driver.find_element(By.ID, "sign-out").click()

        sign_in(driver, url, "admin", logins["admin"])
        wait.until(lambda d: "/admin" in d.current_url)
        check("lead-DA_MARAC" in driver.find_element(By.TAG_NAME, "table").text, "the admin page lists the people")
        run.shot(driver, "11-admin")
        run.audit_a11y(driver, "admin")
    finally:
        if driver is not None:
            driver.quit()
        with open(os.path.join(args.artefacts, "axe-violations.json"), "w") as f:
            json.dump(run.axe_results, f, indent=1)
        subprocess.run([script, "down"], env=env, cwd=args.source, capture_output=True)
        for log in ("console.log", "broker.log"):
            path = os.path.join(home, "log", log)
            if os.path.exists(path):
                shutil.copy(path, os.path.join(args.artefacts, log))
        shutil.rmtree(home, ignore_errors=True)
    print("%d failed" % len(FAILURES) if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
