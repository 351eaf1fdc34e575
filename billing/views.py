from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import actions, stripe_gateway
from billing.models import Subscription, plan_limits_for
from billing.plans import PLANS_IN_ORDER


def pricing(request: HttpRequest) -> HttpResponse:
    current = plan_limits_for(request.user) if request.user.is_authenticated else None
    return render(request, "billing/pricing.html", {"plans": PLANS_IN_ORDER, "current": current})


@login_required
@require_POST
def checkout(request: HttpRequest, plan: str, interval: str) -> HttpResponse:
    back = request.build_absolute_uri(reverse("billing:pricing"))
    done = request.build_absolute_uri(reverse("billing:account")) + "?checkout=done"
    try:
        url = actions.start_checkout(request.user, plan, interval, success_url=done, cancel_url=back)
    except (actions.CheckoutRefused, stripe_gateway.StripeUnavailable) as error:
        messages.error(request, str(error))
        return redirect("billing:pricing")
    return redirect(url)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    subscription, _ = Subscription.objects.get_or_create(user=request.user)
    invoices: list[stripe_gateway.InvoiceLine] = []
    if subscription.stripe_customer_id:
        try:
            invoices = stripe_gateway.list_invoices(subscription.stripe_customer_id)
        except stripe_gateway.StripeUnavailable as error:
            messages.warning(request, str(error))
    if request.GET.get("checkout") == "done" and subscription.effective_plan == "FREE":
        messages.info(request, "Thank you! Your plan changes as soon as Stripe confirms the payment.")
    context = {"subscription": subscription, "limits": subscription.limits, "invoices": invoices}
    return render(request, "billing/account.html", context)


@login_required
@require_POST
def portal(request: HttpRequest) -> HttpResponse:
    try:
        url = actions.open_portal(request.user, request.build_absolute_uri(reverse("billing:account")))
    except stripe_gateway.StripeUnavailable as error:
        messages.error(request, str(error))
        return redirect("billing:account")
    return redirect(url)
