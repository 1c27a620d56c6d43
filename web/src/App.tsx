import { Suspense, lazy } from "react";
import { AppShell, Burger, Group, NavLink, Text } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { NavLink as RouterLink, Route, Routes, useLocation } from "react-router-dom";
import { PageLoading } from "./components/States";
import { ChatLauncher } from "./chat/ChatLauncher";
import { UserHeader } from "./auth/UserHeader";
import { isAdmin } from "./auth/roles";
import { useAuth } from "./auth/useAuth";

const Dashboard = lazy(() => import("./pages/Dashboard"));
const Offers = lazy(() => import("./pages/Offers"));
const OfferDetail = lazy(() => import("./pages/OfferDetail"));
const Soon = lazy(() => import("./pages/Soon"));
const Planner = lazy(() => import("./pages/Planner"));
const Compare = lazy(() => import("./pages/Compare"));
const Account = lazy(() => import("./pages/Account"));
const Bookings = lazy(() => import("./pages/Bookings"));
const BookingDetail = lazy(() => import("./pages/BookingDetail"));
const Audit = lazy(() => import("./pages/Audit"));
const VerifyEmail = lazy(() => import("./pages/VerifyEmail"));
const ForgotPassword = lazy(() => import("./pages/ForgotPassword"));
const ResetPassword = lazy(() => import("./pages/ResetPassword"));
const BillingDone = lazy(() => import("./pages/BillingDone"));
const BillingCancelled = lazy(() => import("./pages/BillingCancelled"));

/** The navigation: the pages of issue 15, the later ones marked "soon" until they land. */
const NAV: { to: string; label: string; soon?: boolean; admin?: boolean }[] = [
  { to: "/", label: "Dashboard" },
  { to: "/offers", label: "Offers" },
  { to: "/planner", label: "Planner" },
  { to: "/compare", label: "Compare" },
  { to: "/bookings", label: "Bookings" },
  { to: "/account", label: "Account" },
  { to: "/audit", label: "Audit", admin: true },
];

export function App() {
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const { user } = useAuth();
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Text component="span" fw={700} size="lg">GPUBroker</Text>
          </Group>
          <UserHeader />
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main" className={opened ? undefined : "nav-closed"}>
        {NAV.filter((item) => !item.admin || isAdmin(user?.roles)).map((item) => (
          <NavLink
            key={item.to}
            component={RouterLink}
            to={item.to}
            end={item.to === "/"}
            label={item.label}
            rightSection={item.soon ? <Text component="span" size="xs" c="gray.7">soon</Text> : undefined}
            active={item.to === "/" ? location.pathname === "/" : location.pathname.startsWith(item.to)}
            onClick={close}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main pb={96} /* room to scroll past the floating AI button */>
        <Suspense fallback={<PageLoading />}>
          <Routes>
            <Route path="/" element={<Dashboard />} />
            <Route path="/offers" element={<Offers />} />
            <Route path="/offers/:offerId" element={<OfferDetail />} />
            <Route path="/planner" element={<Planner />} />
            <Route path="/compare" element={<Compare />} />
            <Route path="/account" element={<Account />} />
            <Route path="/verify-email" element={<VerifyEmail />} />
            {/* the pages the account mails (<AppUrl>/...) and Stripe Checkout's return URLs open */}
            <Route path="/forgot-password" element={<ForgotPassword />} />
            <Route path="/reset-password" element={<ResetPassword />} />
            <Route path="/billing/done" element={<BillingDone />} />
            <Route path="/billing/cancelled" element={<BillingCancelled />} />
            <Route path="/bookings" element={<Bookings />} />
            <Route path="/bookings/:bookingId" element={<BookingDetail />} />
            <Route path="/audit" element={<Audit />} />
            {NAV.filter((n) => n.soon).map((n) => (
              <Route key={n.to} path={n.to} element={<Soon title={n.label} />} />
            ))}
            <Route path="*" element={<Soon title="Page not found" missing />} />
          </Routes>
        </Suspense>
      </AppShell.Main>
      <ChatLauncher />
    </AppShell>
  );
}
