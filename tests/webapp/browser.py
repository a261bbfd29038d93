"""Headless Chromium for the web app's browser test and the screenshot in docs/webapp.md (docs/app_screenshot.py).

Debian's `chromium` and `chromium-driver` packages (`.ci/run` installs them when missing). The flags keep Chromium
off the network beyond the page it is sent to (no component updates, sync, QUIC or background requests: on a closed
network those stall), and each driver gets a fresh profile folder.
"""

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = (
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
)
MISSING_REASON = 'chromium and chromedriver are not installed (apt-get install chromium chromium-driver; .ci/run does)'


def chromium_paths() -> tuple[str, str] | None:
  """(chromium, chromedriver) executables on PATH, or None when either is missing."""
  chromium = shutil.which('chromium') or shutil.which('chromium-browser')
  driver = shutil.which('chromedriver')
  return (chromium, driver) if chromium and driver else None


def start_chromium(profile: Path, width: int = 1400, height: int = 1000):
  """A selenium WebDriver of headless Chromium with a fresh profile in `profile` and a `width`x`height` window."""
  from selenium import webdriver  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.chrome.service import Service  # pylint: disable=g-import-not-at-top

  chromium, driver = chromium_paths()
  options = webdriver.ChromeOptions()
  options.binary_location = chromium
  for flag in (*CHROMIUM_FLAGS, f'--user-data-dir={profile}', f'--window-size={width},{height}'):
    options.add_argument(flag)
  return webdriver.Chrome(service=Service(driver), options=options)


def wait_for(condition: Callable[[], Any], timeout: float = 120, what: str = 'the page') -> Any:
  """Polls `condition()` until it returns something truthy (returned); AssertionError naming `what` on timeout."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    value = condition()
    if value:
      return value
    time.sleep(0.2)
  raise AssertionError(f'timed out after {timeout} s waiting for {what}')


def upload(driver, component_id: str, path: Path) -> None:
  """Puts `path` into the file input of the gradio File component `component_id`, as a drop or a file dialog does."""
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top

  wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f'#{component_id} input[type=file]'), 60, 'the upload')
  driver.find_element(By.CSS_SELECTOR, f'#{component_id} input[type=file]').send_keys(str(path))


def images_of(driver, component_id: str) -> list[dict]:
  """[{'src', 'width', 'height'}] of the loaded images in component `component_id` (natural size)."""
  return driver.execute_script(
    'return Array.from(document.querySelectorAll(arguments[0])).filter(i => i.complete && i.naturalWidth)'
    '.map(i => ({src: i.src, width: i.naturalWidth, height: i.naturalHeight}));',
    f'#{component_id} img',
  )
