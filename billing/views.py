from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import actions, stripe_gateway
from billing.configuration import NOT_AVAILABLE, WHAT_TO_SET, billing_configured
from billing.models import Subscription, plan_limits_for
from billing.plans import PLANS_IN_ORDER, limits_of

REFUSED = (actions.CheckoutRefused, actions.PlanChangeRefused, stripe_gateway.StripeUnavailable)


def payment_banner(request: HttpRequest) -> dict[str, object]:
    """Context processor: a past-due payment shows a banner with a link to update the card."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    past_due = Subscription.objects.filter(user=user, status=Subscription.Status.PAST_DUE).exists()
    return {"payment_past_due": past_due}


def _not_available(request: HttpRequest) -> None:
    messages.info(request, WHAT_TO_SET if request.user.is_staff else NOT_AVAILABLE)


def pricing(request: HttpRequest) -> HttpResponse:
    current = plan_limits_for(request.user) if request.user.is_authenticated else None
    subscription = Subscription.objects.filter(user=request.user).first() if current else None
    context = {
        "plans": PLANS_IN_ORDER,
        "current": current,
        "subscription": subscription,
        "paying": bool(subscription and subscription.holds_live_subscription),
        "billing_available": billing_configured(),
        "what_to_set": WHAT_TO_SET if request.user.is_staff else "",
    }
    return render(request, "billing/pricing.html", context)


@login_required
@require_POST
def checkout(request: HttpRequest, plan: str, interval: str) -> HttpResponse:
    if not billing_configured():
        _not_available(request)
        return redirect("billing:pricing")
    back = request.build_absolute_uri(reverse("billing:pricing"))
    done = request.build_absolute_uri(reverse("billing:account")) + "?checkout=done"
    try:
        url = actions.start_checkout(request.user, plan, interval, success_url=done, cancel_url=back)
    except REFUSED as error:
        messages.error(request, str(error))
        return redirect("billing:pricing")
    return redirect(url)


@login_required
def change_plan(request: HttpRequest, plan: str, interval: str) -> HttpResponse:
    """GET: Stripe's preview of what the change bills now. POST: make it, prorated as previewed."""
    if not billing_configured():
        _not_available(request)
        return redirect("billing:pricing")
    try:
        if request.method == "POST":
            proration_date = request.POST.get("proration_date", "")
            if not proration_date.isdigit():
                raise actions.PlanChangeRefused("Please review the change again before confirming.")
            actions.change_plan(request.user, plan, interval, int(proration_date))
            messages.success(request, "Your plan was changed.")
            return redirect("billing:account")
        preview = actions.preview_plan_change(request.user, plan, interval)
    except REFUSED as error:
        messages.error(request, str(error))
        return redirect("billing:pricing")
    target = limits_of(plan)
    context = {"preview": preview, "target": target, "interval": interval}
    return render(request, "billing/change.html", context)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    subscription, _ = Subscription.objects.get_or_create(user=request.user)
    invoices: list[stripe_gateway.InvoiceLine] = []
    card = None
    if not billing_configured():
        _not_available(request)
    elif subscription.stripe_customer_id:
        try:
            if request.GET.get("portal") == "return":
                actions.refresh_from_stripe(request.user)
                subscription.refresh_from_db()
            invoices = stripe_gateway.list_invoices(subscription.stripe_customer_id)
            card = stripe_gateway.default_payment_method(subscription.stripe_customer_id)
        except stripe_gateway.StripeUnavailable as error:
            messages.warning(request, str(error))
    if request.GET.get("checkout") == "done" and subscription.effective_plan == "FREE":
        messages.info(request, "Thank you! Your plan changes as soon as Stripe confirms the payment.")
    context = {
        "subscription": subscription,
        "limits": subscription.limits,
        "invoices": invoices,
        "card": card,
    }
    return render(request, "billing/account.html", context)


@login_required
@require_POST
def cancel_at_period_end(request: HttpRequest, cancel: bool) -> HttpResponse:
    try:
        actions.set_cancel_at_period_end(request.user, cancel)
    except REFUSED as error:
        messages.error(request, str(error))
    return redirect("billing:account")


@login_required
@require_POST
def portal(request: HttpRequest) -> HttpResponse:
    back = request.build_absolute_uri(reverse("billing:account")) + "?portal=return"
    try:
        url = actions.open_portal(request.user, back)
    except stripe_gateway.StripeUnavailable as error:
        messages.error(request, str(error))
        return redirect("billing:account")
    return redirect(url)
