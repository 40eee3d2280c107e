from vapp import words


def test_words_directly():
    assert words.greeting("ada") == "hello ada"
