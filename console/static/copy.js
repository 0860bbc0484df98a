// Copy buttons of the connection steps: the command's text to the clipboard. The page works
// without this; it only saves a selection.
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    var block = document.querySelector(button.getAttribute("data-copy") + " code");
    if (block && navigator.clipboard) {
      navigator.clipboard.writeText(block.textContent).then(function () {
        button.textContent = "Copied";
      });
    }
  });
});
