// qf_peer: an independent FIX counterparty for the trade-feed tests, built on
// QuickFIX (Debian libquickfix-dev), so that mdmesh-fix is checked against an
// engine it shares no code with. It is the drop-copy side: once logged on it
// sends a scripted set of ExecutionReports (trades, a correction every
// --correct-every, a cancel every --cancel-every, the trader as PartyRole 12),
// writes each one it sent as a JSON line to --truth, and stays logged on
// (answering heartbeats and resend requests) until SIGTERM/SIGINT, or until
// --linger seconds after the last one.
//
//   qf_peer --acceptor PORT | --initiator HOST:PORT  --sender ID --target ID
//           --count N [--correct-every K] [--cancel-every K] [--truth FILE]
//           [--begin-string FIX.4.4] [--dir DIR] [--linger S]
//
// Exit status: 0 when every execution was handed to the session, 1 otherwise.
// QuickFIX 1.15 headers use dynamic exception specifications: C++14 (gnu++14).
#include <quickfix/FileStore.h>
#include <quickfix/Log.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>
#include <quickfix/SocketInitiator.h>
#include <quickfix/fix44/ExecutionReport.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_logged_on{false};

void on_signal(int) { g_stop = true; }

class Peer : public FIX::Application {
public:
	void onCreate(const FIX::SessionID &) override {}
	void onLogon(const FIX::SessionID &sid) override
	{
		sid_ = sid;
		g_logged_on = true;
	}
	void onLogout(const FIX::SessionID &) override { g_logged_on = false; }
	void toAdmin(FIX::Message &, const FIX::SessionID &) override {}
	void toApp(FIX::Message &, const FIX::SessionID &) throw(FIX::DoNotSend) override {}
	void fromAdmin(const FIX::Message &, const FIX::SessionID &) throw(
		FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override
	{
	}
	void fromApp(const FIX::Message &, const FIX::SessionID &) throw(
		FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override
	{
	}
	FIX::SessionID sid_;
};

struct Opts {
	std::string acceptor_port, initiator, sender = "BRK", target = "US", truth, begin = "FIX.4.4", dir = ".";
	long count = 100, correct_every = 0, cancel_every = 0, linger = 600;
};

int usage()
{
	std::cerr << "usage: qf_peer (--acceptor PORT | --initiator HOST:PORT) [--sender ID] [--target ID] --count N\n"
		     "               [--correct-every K] [--cancel-every K] [--truth FILE] [--begin-string S]\n"
		     "               [--dir DIR] [--linger S]\n";
	return 2;
}

// Exact decimal text of v / 10^scale (the prices are built as integers).
std::string dec(long long v, int scale)
{
	std::string s = std::to_string(v);
	if (scale == 0)
		return s;
	while ((int)s.size() <= scale)
		s = "0" + s;
	return s.substr(0, s.size() - scale) + "." + s.substr(s.size() - scale);
}

} // namespace

int main(int argc, char **argv)
{
	Opts o;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto val = [&]() -> std::string {
			if (i + 1 >= argc)
				std::exit(usage());
			return argv[++i];
		};
		if (a == "--acceptor") o.acceptor_port = val();
		else if (a == "--initiator") o.initiator = val();
		else if (a == "--sender") o.sender = val();
		else if (a == "--target") o.target = val();
		else if (a == "--count") o.count = std::atol(val().c_str());
		else if (a == "--correct-every") o.correct_every = std::atol(val().c_str());
		else if (a == "--cancel-every") o.cancel_every = std::atol(val().c_str());
		else if (a == "--truth") o.truth = val();
		else if (a == "--begin-string") o.begin = val();
		else if (a == "--dir") o.dir = val();
		else if (a == "--linger") o.linger = std::atol(val().c_str());
		else return usage();
	}
	if (o.acceptor_port.empty() == o.initiator.empty() || o.count <= 0)
		return usage();

	std::ostringstream cfg;
	cfg << "[DEFAULT]\nFileStorePath=" << o.dir << "/store\nStartTime=00:00:00\nEndTime=00:00:00\n"
	    << "HeartBtInt=5\nUseDataDictionary=N\nResetOnLogon=Y\nReconnectInterval=1\nValidateUserDefinedFields=N\n";
	if (!o.acceptor_port.empty()) {
		cfg << "ConnectionType=acceptor\nSocketAcceptPort=" << o.acceptor_port << "\n";
	} else {
		std::string host = o.initiator.substr(0, o.initiator.rfind(':'));
		cfg << "ConnectionType=initiator\nSocketConnectHost=" << host
		    << "\nSocketConnectPort=" << o.initiator.substr(o.initiator.rfind(':') + 1) << "\n";
	}
	cfg << "[SESSION]\nBeginString=" << o.begin << "\nSenderCompID=" << o.sender << "\nTargetCompID=" << o.target
	    << "\n";

	std::signal(SIGTERM, on_signal);
	std::signal(SIGINT, on_signal);
	std::ofstream truth;
	if (!o.truth.empty())
		truth.open(o.truth);
	try {
		std::istringstream in(cfg.str());
		FIX::SessionSettings settings(in);
		Peer app;
		FIX::FileStoreFactory store(settings);
		FIX::ScreenLogFactory log(false, false, false);
		std::unique_ptr<FIX::Acceptor> acc;
		std::unique_ptr<FIX::Initiator> ini;

		if (!o.acceptor_port.empty()) {
			acc.reset(new FIX::SocketAcceptor(app, store, settings, log));
			acc->start();
		} else {
			ini.reset(new FIX::SocketInitiator(app, store, settings, log));
			ini->start();
		}
		while (!g_logged_on && !g_stop)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		long sent = 0;
		for (long k = 0; k < o.count && !g_stop; k++) {
			char id[32], ref[32], order[32], trader[16];
			static const char *const syms[] = { "AAPL", "MSFT", "NVDA", "AMZN", "META" };
			char type = 'F';
			long long qty = (k % 50 + 1) * 100, px = 1000000 + (k * 7919) % 4000000; // 1e-4 dollars

			std::snprintf(id, sizeof(id), "QF-%ld", k);
			std::snprintf(order, sizeof(order), "QO-%ld", k);
			std::snprintf(trader, sizeof(trader), "T%03ld", k % 10);
			ref[0] = '\0';
			if (k > 0 && o.cancel_every && k % o.cancel_every == 0)
				type = 'H';
			else if (k > 0 && o.correct_every && k % o.correct_every == 0)
				type = 'G';
			if (type != 'F')
				std::snprintf(ref, sizeof(ref), "QF-%ld", k - 1);
			FIX44::ExecutionReport er(FIX::OrderID(order), FIX::ExecID(id), FIX::ExecType(type),
						  FIX::OrdStatus('2'), FIX::Side(k % 2 ? '2' : '1'), FIX::LeavesQty(0),
						  FIX::CumQty((double)qty), FIX::AvgPx(0));
			er.setField(FIX::Symbol(syms[k % 5]));
			er.setField(32, dec(qty, 0));
			er.setField(31, dec(px, 4));
			er.setField(6, dec(px, 4));
			er.setField(FIX::TransactTime());
			if (ref[0])
				er.setField(FIX::ExecRefID(ref));
			FIX44::ExecutionReport::NoPartyIDs party;
			party.set(FIX::PartyID(trader));
			party.set(FIX::PartyIDSource('D'));
			party.set(FIX::PartyRole(12));
			er.addGroup(party);
			if (!FIX::Session::sendToTarget(er, app.sid_)) {
				std::cerr << "qf_peer: send of " << id << " refused\n";
				break;
			}
			sent++;
			if (truth.is_open())
				truth << "{\"exec_id\":\"" << id << "\",\"exec_type\":\"" << type << "\",\"exec_ref_id\":\"" << ref
				      << "\",\"trader\":\"" << trader << "\",\"symbol\":\"" << syms[k % 5]
				      << "\",\"qty8\":" << qty * 100000000LL << ",\"px8\":" << px * 10000LL << "}\n"
				      << std::flush;
		}
		std::cerr << "qf_peer: sent " << sent << " of " << o.count << " executions\n";
		for (long s = 0; s < o.linger * 50 && !g_stop; s++)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		if (acc)
			acc->stop();
		if (ini)
			ini->stop();
		return sent == o.count ? 0 : 1;
	} catch (std::exception &e) {
		std::cerr << "qf_peer: " << e.what() << "\n";
		return 1;
	}
}
