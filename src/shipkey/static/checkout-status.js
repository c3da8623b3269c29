// The page after checkout while the payment is being confirmed: instead of reloading itself
// (which makes screen readers start over), it asks for the same page now and then and, once the
// order's state has changed, puts the new content in place; the live region announces it.
// Without JavaScript the page's "Check again" link does the same by hand.
(() => {
  "use strict";
  const region = document.querySelector("[data-order-state]");
  if (!region) return;
  let delay = 3000;
  const poll = async () => {
    try {
      const answer = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
      if (answer.ok) {
        const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
        const found = fresh.querySelector("[data-order-state]");
        if (found && found.dataset.orderState !== region.dataset.orderState) {
          document.title = fresh.title;
          region.dataset.orderState = found.dataset.orderState;
          region.replaceChildren(...Array.from(found.childNodes, (node) => document.importNode(node, true)));
          if (found.dataset.orderState !== "processing") return;
        }
      }
    } catch (error) {
      // Offline for a moment: ask again later.
    }
    delay = Math.min(delay * 1.5, 30000);
    setTimeout(poll, delay);
  };
  setTimeout(poll, delay);
})();
