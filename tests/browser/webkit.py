"""Drives Debian's WebKitGTK (MiniBrowser, through WebKitWebDriver and selenium) through vncgate's
console and serial pages and prints one JSON line of findings (the same as firefox.mjs's).

Usage, under xvfb-run (WebKitGTK needs a display): python webkit.py CONSOLE_URL SERIAL_URL SHOTS
  console  wait for "Connected" and a drawn screen, click it, type, count the changed pixels
  serial   wait for "Connected", type a line, read the terminal's text (the guest echoes it)
"""

import json
import os
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.webkitgtk.options import Options
from selenium.webdriver.webkitgtk.service import Service

TYPED = "typed in webkit"
PROBE = (Path(__file__).parent / "probe.js").read_text()
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"


def start():
    options = Options()
    options.binary_location = os.environ.get("MINIBROWSER", MINIBROWSER)
    options.add_argument("--automation")
    options.accept_insecure_certs = True
    service = Service(executable_path="/usr/bin/WebKitWebDriver")
    driver = webdriver.WebKitGTK(options=options, service=service)
    driver.set_window_size(1024, 768)
    driver.set_script_timeout(10)
    return driver


def read(driver, name, arg=None):
    driver.execute_script(PROBE)
    return driver.execute_script(f"return window.vncgateProbe.{name}(arguments[0]);", arg)


def until(driver, name, done, seconds, arg=None):
    """Polls `name` until `done` holds or `seconds` pass; the last reading either way."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = read(driver, name, arg)
        except Exception:  # the page is still loading
            value = None
        if (value is not None and done(value)) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def console(driver, url, shots):
    driver.get(url)
    shown = {"status": until(driver, "status", lambda s: s.startswith("Connected"), 30)}
    screen = until(driver, "canvas", lambda c: c["colours"] >= 2, 10)
    shown.update(width=screen["width"], height=screen["height"], colours=screen["colours"])
    ActionChains(driver).click(driver.find_element(By.TAG_NAME, "canvas")).perform()
    time.sleep(0.5)
    read(driver, "canvas", True)
    ActionChains(driver).send_keys(TYPED).perform()
    until(driver, "canvas", lambda c: c["changed"] > 0, 5)
    time.sleep(0.3)
    shown["changed"] = read(driver, "canvas")["changed"]
    driver.save_screenshot(f"{shots}-console.png")
    return shown


def serial(driver, url, shots):
    driver.get(url)
    found = {"status": until(driver, "status", lambda s: s.startswith("Connected"), 30)}
    ActionChains(driver).click(driver.find_element(By.ID, "terminal")).perform()
    ActionChains(driver).send_keys(TYPED + Keys.ENTER).perform()
    found["terminal"] = until(driver, "terminal", lambda t: TYPED in t, 10)
    driver.save_screenshot(f"{shots}-serial.png")
    return found


def main():
    console_url, serial_url, shots = sys.argv[1:4]
    result = {"engine": "webkit"}
    driver = start()
    try:
        result["version"] = driver.capabilities.get("browserVersion")
        result["console"] = console(driver, console_url, shots)
        result["serial"] = serial(driver, serial_url, shots)
    except Exception as error:  # reported, not raised: the test prints the findings
        result["error"] = repr(error)
    finally:
        driver.quit()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
